// Reading TOML for the spec loader: typed accessors that turn every mismatch into a
// SpecProblem with file:line:col, ${ENV} interpolation, and unknown-key checks. Internal to
// src/spec/.
#pragma once

#include "spec/loader.hpp"

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synctool::spec::detail {

// A string value after ${ENV} interpolation.
struct Text {
  std::string value;
  // What a message may quote: the value as written in the file when ${ENV} was substituted,
  // so an environment value never reaches any output.
  std::string shown;
  Location where;
};

// Collects the problems of one file; never throws for a bad value.
class TomlReader {
 public:
  TomlReader(std::string file, const EnvLookup& env);

  // Reads and parses the file; an unreadable file or a syntax error becomes a problem and
  // the result is nullopt.
  std::optional<toml::table> parse(const std::filesystem::path& path);

  const std::string& file() const { return file_; }
  Location at(const toml::source_region& region) const;
  Location at(const toml::node& node) const { return at(node.source()); }
  Location at(const toml::key& key) const { return at(key.source()); }
  // The file as a whole, for problems that have no line (a missing top-level table).
  Location whole_file() const { return Location{file_, 0, 0}; }

  void report(Location where, std::string message);
  bool has_problems() const { return !problems_.empty(); }
  // The problems in file order (problems without a line first).
  std::vector<SpecProblem> take_problems();
  // How many problems were reported so far, and the ones reported after such a count (in file
  // order), taken out of this reader: the problems of one part of the file kept apart.
  std::size_t problem_count() const { return problems_.size(); }
  std::vector<SpecProblem> take_problems_since(std::size_t count);

  // Replaces every ${NAME} from the environment; `$${` is a literal `${`. Reports unset
  // variables at `where`. Each substituted value is appended to `substituted` when given.
  std::optional<std::string> interpolate(std::string_view raw, const Location& where,
                                         std::vector<std::string>* substituted = nullptr);

  // Typed reads: `what` names the value in messages ("[source] fields").
  std::optional<Text> text(const toml::node& node, std::string_view what,
                           std::vector<std::string>* substituted = nullptr);
  std::optional<std::vector<Text>> texts(const toml::node& node, std::string_view what);
  std::optional<bool> boolean(const toml::node& node, std::string_view what);
  std::optional<std::int64_t> integer(const toml::node& node, std::string_view what);
  const toml::table* table(const toml::node& node, std::string_view what);
  // A string that must be one of `allowed`; a bad value names itself and the choices.
  std::optional<std::string> choice(const toml::node& node, std::string_view what,
                                    const std::vector<std::string>& allowed);
  // Any TOML value as JSON (strings interpolated; dates and times as their TOML text).
  std::optional<nlohmann::json> to_json(const toml::node& node, std::string_view what,
                                        std::vector<std::string>* substituted = nullptr);

  // Reports every key of `table` not in `allowed`. `context` is "[source]" or "" (top level).
  void check_keys(const toml::table& table, const std::vector<std::string>& allowed, std::string_view context);

 private:
  std::string file_;
  const EnvLookup& env_;
  std::vector<SpecProblem> problems_;
};

// The entries of a table in the order they appear in the file (toml++ sorts them by key).
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table);

// "a string", "an array"... for "expected X, got Y" messages.
std::string describe_type(const toml::node& node);
// " (did you mean 'x'?)" when `word` is a plausible typo of a candidate, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
// "'a', 'b', 'c'"
std::string quoted_list(const std::vector<std::string>& items);

}  // namespace synctool::spec::detail
