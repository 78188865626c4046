#include "engine/merge.hpp"

#include "engine/values.hpp"
#include "util/json_path.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace synctool::engine {

namespace {

nlohmann::json field_value(const nlohmann::json& values, const std::string& path) {
  const nlohmann::json* found = util::json_get_path(values, path);
  return found ? *found : nlohmann::json();
}

}  // namespace

const char* to_string(MergeRule rule) {
  switch (rule) {
    case MergeRule::source_changed: return "changed at the source";
    case MergeRule::destination_changed: return "changed at the destination";
    case MergeRule::same_change: return "changed alike on both sides";
    case MergeRule::owner: return "owner";
    case MergeRule::most_recent: return "most recent wins";
    case MergeRule::source_wins: return "source wins";
    case MergeRule::destination_wins: return "destination wins";
    case MergeRule::baseline: return "baseline";
    case MergeRule::empty_ignored: return "emptied value ignored";
    case MergeRule::manual: return "manual";
    case MergeRule::resolved: return "resolved";
  }
  return "?";
}

bool is_empty_value(const nlohmann::json& value) {
  if (value.is_null()) return true;
  if (value.is_string()) return util::trim(value.get_ref<const std::string&>()).empty();
  if (value.is_array() || value.is_object()) return value.empty();
  return false;
}

RecordMerger::RecordMerger(std::vector<MergeField> fields, spec::ConflictsSpec conflicts)
    : fields_(std::move(fields)), conflicts_(std::move(conflicts)) {}

std::optional<Side> RecordMerger::owner_of(const MergeField& field) const {
  auto it = conflicts_.owners.find(field.path);
  if (it == conflicts_.owners.end()) it = conflicts_.owners.find(field.source_name);
  if (it == conflicts_.owners.end()) return std::nullopt;
  return it->second == "source" ? Side::source : Side::destination;
}

Side RecordMerger::more_recent(const SideValues& source, const SideValues& destination, Side tie) const {
  if (!source.modified_ms || !destination.modified_ms || *source.modified_ms == *destination.modified_ms) return tie;
  return *source.modified_ms > *destination.modified_ms ? Side::source : Side::destination;
}

MergeResult RecordMerger::merge(const nlohmann::json* base, const SideValues& source, const SideValues& destination,
                                const std::vector<std::string>& queued, const nlohmann::json& resolved) const {
  using spec::FieldDirection;
  MergeResult out;
  for (const auto& field : fields_) {
    FieldDecision decision;
    decision.field = field.path;
    decision.source_value = field_value(source.values, field.path);
    decision.destination_value = field_value(destination.values, field.path);
    const auto& s = decision.source_value;
    const auto& d = decision.destination_value;
    if (base) decision.base_value = field_value(*base, field.path);
    const auto& b = decision.base_value;

    // Whether the field is written at all this time: a field neither side changed (or whose
    // change does not flow, by its direction or the empty rule) stays as it is on both sides.
    bool settled = true;
    auto take = [&](Side side, MergeRule rule) {
      decision.winner = side;
      decision.rule = rule;
      decision.value = side == Side::source ? s : d;
      settled = false;
    };

    const nlohmann::json* chosen = resolved.is_object() ? util::json_get_path(resolved, field.path) : nullptr;
    if (chosen) {
      decision.rule = MergeRule::resolved;
      decision.value = *chosen;
      settled = false;
    } else if (std::find(queued.begin(), queued.end(), field.path) != queued.end()) {
      // Waiting for `synctool conflicts resolve`: neither side is touched, the base stays.
      decision.value = base ? b : s;
    } else if (!base) {
      if (values_equal(s, d)) {
        decision.value = s;
      } else if (conflicts_.ignore_empty && is_empty_value(s) != is_empty_value(d)) {
        take(is_empty_value(s) ? Side::destination : Side::source, MergeRule::empty_ignored);
      } else if (field.direction == FieldDirection::to_destination) {
        take(Side::source, MergeRule::baseline);
      } else if (field.direction == FieldDirection::to_source) {
        take(Side::destination, MergeRule::baseline);
      } else {
        switch (conflicts_.baseline) {
          case spec::BaselineWinner::source: take(Side::source, MergeRule::baseline); break;
          case spec::BaselineWinner::destination: take(Side::destination, MergeRule::baseline); break;
          case spec::BaselineWinner::most_recent:
            take(more_recent(source, destination, Side::source), MergeRule::baseline);
            break;
        }
      }
    } else {
      bool source_changed = field.direction != FieldDirection::to_source && !values_equal(s, b);
      bool destination_changed = field.direction != FieldDirection::to_destination && !values_equal(d, b);
      bool emptied = false;
      if (conflicts_.ignore_empty && !is_empty_value(b)) {
        if (source_changed && is_empty_value(s)) source_changed = false, emptied = true;
        if (destination_changed && is_empty_value(d)) destination_changed = false, emptied = true;
      }
      if (!source_changed && !destination_changed) {
        decision.value = b;
        if (emptied) decision.rule = MergeRule::empty_ignored;
      } else if (source_changed && !destination_changed) {
        take(Side::source, MergeRule::source_changed);
      } else if (!source_changed) {
        take(Side::destination, MergeRule::destination_changed);
      } else if (values_equal(s, d)) {
        take(Side::source, MergeRule::same_change);
      } else {
        decision.conflict = true;
        if (auto owner = owner_of(field)) {
          take(*owner, MergeRule::owner);
        } else {
          switch (conflicts_.strategy) {
            case spec::ConflictStrategy::source_wins: take(Side::source, MergeRule::source_wins); break;
            case spec::ConflictStrategy::destination_wins: take(Side::destination, MergeRule::destination_wins); break;
            case spec::ConflictStrategy::most_recent_wins: {
              Side side = more_recent(source, destination, Side::source);
              take(side, source.modified_ms && destination.modified_ms ? MergeRule::most_recent
                                                                        : MergeRule::source_wins);
              break;
            }
            case spec::ConflictStrategy::manual:
              decision.rule = MergeRule::manual;
              decision.value = b;
              out.manual.push_back(decision);
              break;
          }
        }
      }
      if (emptied && settled) out.decisions.push_back(decision);
    }

    util::json_set_path(out.merged, field.path, decision.value);
    if (settled) continue;
    if (field.direction != FieldDirection::to_source && !values_equal(decision.value, d))
      util::json_set_path(out.to_destination, field.path, decision.value);
    if (field.direction != FieldDirection::to_destination && !values_equal(decision.value, s))
      util::json_set_path(out.to_source, field.path, decision.value);
    out.decisions.push_back(std::move(decision));
  }
  return out;
}

}  // namespace synctool::engine
