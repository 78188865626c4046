// What every fuzz target shares. A target catches only synctool's documented errors for bad
// input (SpecError, CsvError, FilterSyntaxError, ConnectorError). Any other exception is a
// finding and is deliberately not caught: with no handler for it, the C++ runtime calls
// std::terminate at the throw, before unwinding, so the report libFuzzer prints (after
// "terminate called after throwing an instance of ...") shows where it was thrown.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace synctool::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A broken promise of the code under test (a contract its header states).
[[noreturn]] inline void violated(std::string_view target, std::string_view what) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(target.size()), target.data(), static_cast<int>(what.size()),
               what.data());
  std::abort();
}

}  // namespace synctool::fuzz
