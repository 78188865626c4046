// A pre-scan of TOML text for the shapes that make toml++ 3.3 crash or run into undefined
// behaviour instead of throwing a parse_error (found by tests/fuzz/fuzz_spec; upstream issues
// marzer/tomlplusplus#294 and #295). The scan knows just enough TOML to tell strings and
// comments from the rest, keys from values and table headers from arrays. Internal to
// src/spec/ (toml_reader calls it before toml::parse).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace synctool::spec::detail {

// A syntax error found by the scan, where toml++ would count it: 1-based line, and column in
// code points.
struct TomlGuardProblem {
  int line = 0;
  int column = 0;
  std::string message;  // "unexpected character '“' (U+201C) outside a string..."
};

struct GuardedToml {
  // What toml++ may parse safely: the input with every crashing shape defused, and otherwise
  // unchanged but for one rewrite of valid TOML that keeps its meaning (a non-ASCII character
  // right after a line-ending backslash in a """string""" becomes its \u escape; columns later
  // on that line are then a few off in toml++'s positions).
  std::string text;
  // The first problem the scan found and defused, if any. toml++ may still find an earlier
  // one in `text`: the caller reports whichever comes first.
  std::optional<TomlGuardProblem> problem;
};

GuardedToml guard_toml(std::string_view text);

// The most parts a dotted key or table name may have.
inline constexpr int kMaxTomlKeyParts = 32;

}  // namespace synctool::spec::detail
