#include "spec/toml_reader.hpp"

#include "spec/toml_guard.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace synctool::spec::detail {

namespace {

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

std::string prefixed(std::string_view what, std::string_view message) {
  if (what.empty()) return std::string(message);
  return std::string(what) + ": " + std::string(message);
}

template <typename T>
std::string stream_text(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

TomlReader::TomlReader(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

std::optional<toml::table> TomlReader::parse(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    report(whole_file(), std::string("cannot read the file: ") + (err ? std::strerror(err) : "unknown error"));
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    report(whole_file(), "cannot read the file");
    return std::nullopt;
  }
  // toml++ 3.3 crashes on some malformed input instead of throwing: the guard defuses those
  // shapes first (see toml_guard.hpp), and the first syntax error wins, whoever found it.
  GuardedToml guarded = guard_toml(content.str());
  try {
    toml::table table = toml::parse(std::string_view(guarded.text), std::string_view(file_));
    if (!guarded.problem) return table;
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    if (!guarded.problem || std::pair(static_cast<int>(begin.line), static_cast<int>(begin.column)) <
                                std::pair(guarded.problem->line, guarded.problem->column)) {
      report(at(e.source()), "TOML syntax error: " + std::string(e.description()));
      return std::nullopt;
    }
  }
  report(Location{file_, guarded.problem->line, guarded.problem->column},
         "TOML syntax error: " + guarded.problem->message);
  return std::nullopt;
}

Location TomlReader::at(const toml::source_region& region) const {
  return Location{file_, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

void TomlReader::report(Location where, std::string message) {
  problems_.push_back(SpecProblem{std::move(where), std::move(message)});
}

namespace {

void sort_by_position(std::vector<SpecProblem>::iterator begin, std::vector<SpecProblem>::iterator end) {
  std::stable_sort(begin, end, [](const SpecProblem& a, const SpecProblem& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
}

}  // namespace

std::vector<SpecProblem> TomlReader::take_problems() {
  sort_by_position(problems_.begin(), problems_.end());
  return std::move(problems_);
}

std::vector<SpecProblem> TomlReader::take_problems_since(std::size_t count) {
  if (count >= problems_.size()) return {};
  auto first = problems_.begin() + static_cast<std::ptrdiff_t>(count);
  std::vector<SpecProblem> taken(std::make_move_iterator(first), std::make_move_iterator(problems_.end()));
  problems_.erase(first, problems_.end());
  sort_by_position(taken.begin(), taken.end());
  return taken;
}

std::optional<std::string> TomlReader::interpolate(std::string_view raw, const Location& where,
                                                   std::vector<std::string>* substituted) {
  std::string out;
  bool ok = true;
  std::size_t i = 0;
  while (i < raw.size()) {
    if (raw.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (raw.compare(i, 2, "${") != 0) {
      out += raw[i++];
      continue;
    }
    std::size_t close = raw.find('}', i + 2);
    if (close == std::string_view::npos) {
      report(where, "unterminated '${' (close it with '}', or write '$${' for a literal '${')");
      return std::nullopt;
    }
    std::string_view name = raw.substr(i + 2, close - i - 2);
    // ${NAME:-fallback}: the fallback when NAME is unset or empty, as in the shell.
    std::optional<std::string_view> fallback;
    if (auto sep = name.find(":-"); sep != std::string_view::npos) {
      fallback = name.substr(sep + 2);
      name = name.substr(0, sep);
    }
    bool valid = !name.empty() && is_name_start(name.front()) &&
                 std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c); });
    if (!valid) {
      report(where, "'${" + std::string(name) +
                        "}' is not a valid environment variable reference (use letters, digits and '_', "
                        "or write '$${' for a literal '${')");
      ok = false;
    } else if (auto value = env_ ? env_(std::string(name)) : std::nullopt; value && !(fallback && value->empty())) {
      out += *value;
      if (substituted) substituted->push_back(*value);
    } else if (fallback) {
      out += *fallback;
    } else {
      report(where, "environment variable " + std::string(name) + " is not set");
      ok = false;
    }
    i = close + 1;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Text> TomlReader::text(const toml::node& node, std::string_view what,
                                     std::vector<std::string>* substituted) {
  const auto* s = node.as_string();
  if (!s) {
    report(at(node), prefixed(what, "expected a string, got " + describe_type(node)));
    return std::nullopt;
  }
  const std::string& raw = s->get();
  Location where = at(node);
  std::vector<std::string> values;
  auto value = interpolate(raw, where, &values);
  if (!value) return std::nullopt;
  if (substituted) substituted->insert(substituted->end(), values.begin(), values.end());
  return Text{*value, values.empty() ? *value : raw, where};
}

std::optional<std::vector<Text>> TomlReader::texts(const toml::node& node, std::string_view what) {
  const auto* array = node.as_array();
  if (!array) {
    report(at(node), prefixed(what, "expected an array of strings, got " + describe_type(node)));
    return std::nullopt;
  }
  std::vector<Text> out;
  bool ok = true;
  for (const toml::node& item : *array) {
    if (!item.is_string()) {
      report(at(item), prefixed(what, "expected an array of strings, but this item is " + describe_type(item)));
      ok = false;
      continue;
    }
    if (auto t = text(item, what))
      out.push_back(std::move(*t));
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<bool> TomlReader::boolean(const toml::node& node, std::string_view what) {
  if (const auto* b = node.as_boolean()) return b->get();
  report(at(node), prefixed(what, "expected true or false, got " + describe_type(node)));
  return std::nullopt;
}

std::optional<std::int64_t> TomlReader::integer(const toml::node& node, std::string_view what) {
  if (const auto* i = node.as_integer()) return i->get();
  report(at(node), prefixed(what, "expected a whole number, got " + describe_type(node)));
  return std::nullopt;
}

const toml::table* TomlReader::table(const toml::node& node, std::string_view what) {
  if (const auto* t = node.as_table()) return t;
  report(at(node), prefixed(what, "expected a table, got " + describe_type(node)));
  return nullptr;
}

std::optional<std::string> TomlReader::choice(const toml::node& node, std::string_view what,
                                              const std::vector<std::string>& allowed) {
  auto t = text(node, what);
  if (!t) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), t->value) != allowed.end()) return t->value;
  report(t->where, prefixed(what, "'" + t->shown + "' is not valid; expected one of " + quoted_list(allowed) +
                                      did_you_mean(t->shown, allowed)));
  return std::nullopt;
}

std::optional<nlohmann::json> TomlReader::to_json(const toml::node& node, std::string_view what,
                                                  std::vector<std::string>* substituted) {
  switch (node.type()) {
    case toml::node_type::string: {
      auto t = text(node, what, substituted);
      if (!t) return std::nullopt;
      return nlohmann::json(t->value);
    }
    case toml::node_type::integer: return nlohmann::json(node.as_integer()->get());
    case toml::node_type::floating_point: return nlohmann::json(node.as_floating_point()->get());
    case toml::node_type::boolean: return nlohmann::json(node.as_boolean()->get());
    case toml::node_type::date: return nlohmann::json(stream_text(node.as_date()->get()));
    case toml::node_type::time: return nlohmann::json(stream_text(node.as_time()->get()));
    case toml::node_type::date_time: return nlohmann::json(stream_text(node.as_date_time()->get()));
    case toml::node_type::array: {
      nlohmann::json out = nlohmann::json::array();
      bool ok = true;
      for (const toml::node& item : *node.as_array()) {
        if (auto j = to_json(item, what, substituted))
          out.push_back(std::move(*j));
        else
          ok = false;
      }
      if (!ok) return std::nullopt;
      return out;
    }
    case toml::node_type::table: {
      nlohmann::json out = nlohmann::json::object();
      bool ok = true;
      for (auto&& [key, value] : *node.as_table()) {
        if (auto j = to_json(value, what, substituted))
          out[std::string(key.str())] = std::move(*j);
        else
          ok = false;
      }
      if (!ok) return std::nullopt;
      return out;
    }
    case toml::node_type::none: break;
  }
  report(at(node), prefixed(what, "unsupported value"));
  return std::nullopt;
}

void TomlReader::check_keys(const toml::table& table, const std::vector<std::string>& allowed,
                            std::string_view context) {
  for (auto&& [key, value] : table) {
    std::string name(key.str());
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string hint = did_you_mean(name, allowed);
    // A misspelt [section] header reads better as a table than as a key.
    if (context.empty() && value.is_table() && !value.as_table()->is_inline()) {
      std::string match = util::closest_match(name, allowed);
      report(at(key), "unknown table [" + name + "]" + (match.empty() ? "" : " (did you mean [" + match + "]?)"));
      continue;
    }
    std::string where = context.empty() ? std::string(" at the top level") : " in " + std::string(context);
    if (hint.empty()) hint = " (allowed keys: " + util::join(allowed, ", ") + ")";
    report(at(key), "unknown key '" + name + "'" + where + hint);
  }
}

std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, value] : table) entries.emplace_back(&key, &value);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  return entries;
}

std::string describe_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "a whole number";
    case toml::node_type::floating_point: return "a decimal number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string match = util::closest_match(word, candidates);
  return match.empty() ? std::string() : " (did you mean '" + match + "'?)";
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += "'" + items[i] + "'";
  }
  return out;
}

}  // namespace synctool::spec::detail
