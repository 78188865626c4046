// The three-way merge of a bidirectional sync: one record as each side has it now, against the
// base values both last agreed on, field by field (DESIGN section 4). Pure: no state, no
// connectors; the two-way runner feeds it and applies what it decides.
//
// Values are in the sync's common form, the destination's field paths (what the one-way
// engine writes and keeps as base values): the source's record mapped by [field_map], the
// destination's projected onto the mapped paths.
#pragma once

#include "engine/plan.hpp"
#include "spec/spec.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synctool::engine {

// One side's record as read now.
struct SideValues {
  nlohmann::json values = nlohmann::json::object();
  std::optional<std::int64_t> modified_ms;  // the record's modification time, where the side has one
};

// How a field's value was decided, for diff and the report.
enum class MergeRule {
  source_changed,       // changed on the source only
  destination_changed,  // changed on the destination only
  same_change,          // changed on both sides to equal values: not a conflict
  owner,                // a conflict won by [conflicts] owners
  most_recent,          // a conflict won by the more recently modified side
  source_wins,          // a conflict won by strategy = "source-wins" (or a tie of times)
  destination_wins,     // a conflict won by strategy = "destination-wins"
  baseline,             // differing at the first link, won by [conflicts] baseline
  empty_ignored,        // an emptied field left alone ([conflicts] empty = "ignore")
  manual,               // queued as a conflict: both sides keep their values until resolved
  resolved,             // a queued conflict resolved by `synctool conflicts resolve`
};
const char* to_string(MergeRule rule);

struct FieldDecision {
  std::string field;  // destination path
  MergeRule rule = MergeRule::source_changed;
  bool conflict = false;  // both sides changed it to different values
  std::optional<Side> winner;  // whose value it took, where one side's did
  nlohmann::json source_value, destination_value, base_value, value;
};

struct MergeResult {
  nlohmann::json merged = nlohmann::json::object();  // the new base values
  nlohmann::json to_source = nlohmann::json::object();       // fields to write to the source (destination paths)
  nlohmann::json to_destination = nlohmann::json::object();  // fields to write to the destination
  std::vector<FieldDecision> decisions;  // every field that changed on a side or differed
  std::vector<FieldDecision> manual;     // the conflicts queued for `synctool conflicts`
};

struct MergeField {
  std::string path;        // destination path
  std::string source_name;  // the source field it is mapped from (owners may name either)
  spec::FieldDirection direction = spec::FieldDirection::both;
};

class RecordMerger {
 public:
  // `fields`: the mapped fields (not the match field: a record's key is never rewritten).
  RecordMerger(std::vector<MergeField> fields, spec::ConflictsSpec conflicts);

  // `base` is null when the two records are linked for the first time (a baseline match).
  // `queued`: fields already waiting in the conflict queue (left as they are on both sides);
  // `resolved`: values `synctool conflicts resolve` chose, by field, written to both sides.
  MergeResult merge(const nlohmann::json* base, const SideValues& source, const SideValues& destination,
                    const std::vector<std::string>& queued = {}, const nlohmann::json& resolved = nullptr) const;

  const std::vector<MergeField>& fields() const { return fields_; }

 private:
  std::optional<Side> owner_of(const MergeField& field) const;
  Side more_recent(const SideValues& source, const SideValues& destination, Side tie) const;

  std::vector<MergeField> fields_;
  spec::ConflictsSpec conflicts_;
};

// null, blank text, an empty array or object.
bool is_empty_value(const nlohmann::json& value);

}  // namespace synctool::engine
