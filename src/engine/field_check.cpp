#include "engine/field_check.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace synctool::engine {

namespace {

// The fields an object has, asked about by path.
class FieldSet {
 public:
  explicit FieldSet(const connectors::ObjectDescription& description)
      : case_insensitive_(description.case_insensitive) {
    for (const auto& field : description.fields) {
      names_.push_back(field.name);
      lookup_.insert(fold(field.name));
    }
  }

  bool has(const std::string& path) const {
    if (lookup_.contains(fold(path))) return true;
    auto dot = path.find('.');
    if (dot == std::string::npos) return false;
    // "address.city" lives inside the column "address", unless the object lists its nested
    // fields one by one (Mailchimp's merge_fields.FNAME): then the whole path must be listed.
    std::string top = fold(path.substr(0, dot));
    std::string prefix = top + ".";
    for (const auto& name : lookup_)
      if (name.starts_with(prefix)) return false;
    return lookup_.contains(top);
  }

  // " (did you mean 'email'?)", or the fields there are when there are few, or "".
  std::string hint(const std::string& path) const {
    std::string best = util::closest_match(path, names_);
    if (best.empty() && case_insensitive_) {
      for (const auto& name : names_)
        if (fold(name) == fold(path)) best = name;
    }
    if (!best.empty()) return " (did you mean '" + best + "'?)";
    if (names_.empty()) return " (it has no fields)";
    if (names_.size() <= 12) return " (it has: " + util::join(names_, ", ") + ")";
    return "";
  }

 private:
  std::string fold(const std::string& name) const { return case_insensitive_ ? util::to_lower(name) : name; }

  bool case_insensitive_;
  std::vector<std::string> names_;
  std::set<std::string> lookup_;
};

class Checker {
 public:
  Checker(const FieldSet& fields, std::string label, std::vector<spec::SpecProblem>& problems)
      : fields_(fields), label_(std::move(label)), problems_(problems) {}

  // Reports `path` once per place when the object lacks it.
  void need(const std::string& path, const spec::Location& where, const std::string& what) {
    if (path.empty() || path == connectors::kNativeIdField) return;
    if (!reported_.insert({path, what}).second) return;
    if (fields_.has(path)) return;
    problems_.push_back({where, what + " '" + path + "' does not exist in " + label_ + fields_.hint(path)});
  }

 private:
  const FieldSet& fields_;
  std::string label_;
  std::vector<spec::SpecProblem>& problems_;
  std::set<std::pair<std::string, std::string>> reported_;
};

}  // namespace

std::vector<spec::SpecProblem> field_problems(const CompiledSync& compiled, const connectors::ObjectDescription& source,
                                              const connectors::ObjectDescription& destination,
                                              const std::string& source_label, const std::string& destination_label) {
  const spec::SyncSpec& sync = compiled.spec();
  std::vector<spec::SpecProblem> problems;

  if (!source.accepts_new_fields) {
    FieldSet source_fields(source);
    Checker from(source_fields, source_label, problems);
    for (const auto& name : sync.source.fields) from.need(name, sync.source.where, "[source] fields: field");
    from.need(sync.match.source, sync.match.where, "[match] source field");
    if (!sync.source.key.empty()) from.need(sync.source.key, sync.source.where, "[source] key field");
    for (const auto& field : compiled.filter().fields())
      from.need(field, sync.source.filter_where, "[source] filter field");
    for (const auto& mapping : sync.field_map) from.need(mapping.source, mapping.where, "[field_map] source field");
  }

  if (!destination.accepts_new_fields) {
    FieldSet destination_fields(destination);
    Checker to(destination_fields, destination_label, problems);
    to.need(sync.match.destination, sync.match.where, "[match] destination field");
    if (!sync.destination.key.empty()) to.need(sync.destination.key, sync.destination.where, "[destination] key field");
    for (const auto& mapping : sync.field_map)
      to.need(mapping.destination, mapping.where, "[field_map] destination field");
  }
  return problems;
}

}  // namespace synctool::engine
