// The filter expression parser and evaluator (src/engine/filter): any text as a [source]
// filter, evaluated against records of every JSON type.
//
// Documented: FilterSyntaxError, with a 1-based column inside the text (or just past its
// end). Checked besides: evaluation never throws, and `not (<expr>)` matches exactly the
// records <expr> does not (`not` is plain negation, missing fields included).
#include "fuzz_support.hpp"

#include "engine/filter.hpp"

#include <string>
#include <vector>

using namespace synctool;
using engine::Filter;
using engine::FilterSyntaxError;
using nlohmann::json;

namespace {

constexpr std::string_view kTarget = "fuzz_filter";

const std::vector<json>& records() {
  static const std::vector<json> all = {
      json::object(),
      json{{"lifecyclestage", "customer"}, {"country", "DE"}, {"score", 12}, {"phone", ""}, {"email", "a@x.com"}},
      json{{"score", "9"},
           {"big", 9007199254740993LL},
           {"neg", -1.5e300},
           {"flag", true},
           {"n", nullptr},
           {"tags", json::array({"a", "b"})},
           {"empty", json::array()},
           {"nested", {{"x", 1}, {"y", {{"z", "deep"}}}}},
           {"first name", "Ann"},
           {"text", "it's"},
           {"unicode", "Müller"}},
      json{{"score", 1.0 / 3.0}, {"country", json::array({"DE", "FR"})}, {"nested", "not an object"}},
      json::array({1, 2}),
      json("a string record"),
      json(nullptr),
  };
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  Filter filter;
  try {
    filter = Filter::parse(text);
  } catch (const FilterSyntaxError& e) {
    if (e.column() < 1 || static_cast<std::size_t>(e.column()) > text.size() + 1)
      fuzz::violated(kTarget, "a syntax error at column " + std::to_string(e.column()) + " of a text of " +
                                  std::to_string(text.size()) + " bytes: " + e.what());
    return 0;
  }
  (void)filter.fields();

  std::optional<Filter> negated;
  try {
    negated = Filter::parse("not (" + std::string(text) + ")");
  } catch (const FilterSyntaxError&) {
    // A blank filter, or one already at the nesting limit: nothing to compare.
  }
  for (const auto& record : records()) {
    bool matches = filter.matches(record);
    if (negated && negated->matches(record) == matches)
      fuzz::violated(kTarget, "'not (...)' gives the same answer as the filter itself for " + record.dump());
  }
  return 0;
}
