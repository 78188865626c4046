#include "engine/merge.hpp"
#include "engine/values.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace synctool;
using engine::MergeRule;
using engine::RecordMerger;
using engine::Side;
using engine::SideValues;
using nlohmann::json;
using spec::FieldDirection;

namespace {

std::vector<engine::MergeField> contact_fields() {
  return {{"firstname", "first_name", FieldDirection::both},
          {"phone", "phone", FieldDirection::both},
          {"company", "company", FieldDirection::to_destination},
          {"status", "status", FieldDirection::to_source}};
}

spec::ConflictsSpec strategy(spec::ConflictStrategy s) {
  spec::ConflictsSpec c;
  c.strategy = s;
  return c;
}

SideValues side(json values, std::optional<std::int64_t> modified = std::nullopt) {
  return SideValues{std::move(values), modified};
}

const json kBase = {{"firstname", "Ann"}, {"phone", "1"}, {"company", "Acme"}, {"status", "subscribed"}};

}  // namespace

TEST_CASE("merge: a field changed on one side only takes that side's value and is written to the other",
          "[merge]") {
  RecordMerger merger(contact_fields(), strategy(spec::ConflictStrategy::manual));
  json source = kBase, destination = kBase;
  source["firstname"] = "Anne";
  destination["phone"] = "2";
  auto result = merger.merge(&kBase, side(source), side(destination));
  CHECK(result.merged["firstname"] == "Anne");
  CHECK(result.merged["phone"] == "2");
  CHECK(result.to_destination == json{{"firstname", "Anne"}});
  CHECK(result.to_source == json{{"phone", "2"}});
  CHECK(result.manual.empty());
  REQUIRE(result.decisions.size() == 2);
  CHECK(result.decisions[0].rule == MergeRule::source_changed);
  CHECK(result.decisions[1].rule == MergeRule::destination_changed);
}

TEST_CASE("merge: nothing changed, or an echo of the last write, writes nothing", "[merge]") {
  RecordMerger merger(contact_fields(), {});
  auto result = merger.merge(&kBase, side(kBase), side(kBase));
  CHECK(result.to_destination.empty());
  CHECK(result.to_source.empty());
  CHECK(result.decisions.empty());
  CHECK(result.merged == kBase);
  // Equal under the sync's comparison (42 and "42", null and ""), not byte for byte.
  json base = {{"firstname", nullptr}, {"phone", 42}};
  json read = {{"firstname", ""}, {"phone", "42"}};
  result = merger.merge(&base, side(read), side(base));
  CHECK(result.to_destination.empty());
  CHECK(result.to_source.empty());
}

TEST_CASE("merge: the same change on both sides is not a conflict", "[merge]") {
  RecordMerger merger(contact_fields(), strategy(spec::ConflictStrategy::manual));
  json changed = kBase;
  changed["phone"] = "9";
  auto result = merger.merge(&kBase, side(changed), side(changed));
  CHECK(result.manual.empty());
  CHECK(result.to_destination.empty());
  CHECK(result.to_source.empty());
  CHECK(result.merged["phone"] == "9");
  REQUIRE(result.decisions.size() == 1);
  CHECK(result.decisions[0].rule == MergeRule::same_change);
  CHECK_FALSE(result.decisions[0].conflict);
}

TEST_CASE("merge: a conflict is decided by the owner, else by the strategy", "[merge]") {
  json source = kBase, destination = kBase;
  source["phone"] = "S";
  destination["phone"] = "D";
  source["firstname"] = "Sa";
  destination["firstname"] = "Da";

  SECTION("most recent wins, by each record's modification time") {
    RecordMerger merger(contact_fields(), strategy(spec::ConflictStrategy::most_recent_wins));
    auto result = merger.merge(&kBase, side(source, 2000), side(destination, 1000));
    CHECK(result.merged["phone"] == "S");
    CHECK(result.to_destination == json{{"firstname", "Sa"}, {"phone", "S"}});
    CHECK(result.to_source.empty());
    CHECK(result.decisions[0].rule == MergeRule::most_recent);
    CHECK(result.decisions[0].conflict);
    result = merger.merge(&kBase, side(source, 1000), side(destination, 2000));
    CHECK(result.merged["phone"] == "D");
    CHECK(result.to_source == json{{"firstname", "Da"}, {"phone", "D"}});
    // Without both times, the source wins and the rule says so.
    result = merger.merge(&kBase, side(source), side(destination, 2000));
    CHECK(result.merged["phone"] == "S");
    CHECK(result.decisions[0].rule == MergeRule::source_wins);
  }
  SECTION("source wins / destination wins") {
    auto result = RecordMerger(contact_fields(), strategy(spec::ConflictStrategy::source_wins))
                      .merge(&kBase, side(source, 1), side(destination, 2));
    CHECK(result.merged["phone"] == "S");
    result = RecordMerger(contact_fields(), strategy(spec::ConflictStrategy::destination_wins))
                 .merge(&kBase, side(source, 2), side(destination, 1));
    CHECK(result.merged["phone"] == "D");
    CHECK(result.decisions[0].rule == MergeRule::destination_wins);
  }
  SECTION("an owner, named by destination path or source field, beats the strategy") {
    auto conflicts = strategy(spec::ConflictStrategy::source_wins);
    conflicts.owners["phone"] = "destination";
    conflicts.owners["first_name"] = "destination";
    auto result = RecordMerger(contact_fields(), conflicts).merge(&kBase, side(source), side(destination));
    CHECK(result.merged["phone"] == "D");
    CHECK(result.merged["firstname"] == "Da");
    CHECK(result.decisions[1].rule == MergeRule::owner);
  }
  SECTION("manual queues the conflict, keeps the base, and the other fields still sync") {
    json dest = destination;
    dest["firstname"] = "Ann";  // only the phone conflicts now
    auto result = RecordMerger(contact_fields(), strategy(spec::ConflictStrategy::manual))
                      .merge(&kBase, side(source), side(dest));
    REQUIRE(result.manual.size() == 1);
    CHECK(result.manual[0].field == "phone");
    CHECK(result.manual[0].source_value == "S");
    CHECK(result.manual[0].destination_value == "D");
    CHECK(result.manual[0].base_value == "1");
    CHECK(result.merged["phone"] == "1");
    CHECK(result.to_destination == json{{"firstname", "Sa"}});
    CHECK(result.to_source.empty());
    // Queued, later runs leave it alone until it is resolved; then both sides get the choice.
    result = RecordMerger(contact_fields(), strategy(spec::ConflictStrategy::manual))
                 .merge(&kBase, side(source), side(dest), {"phone"});
    CHECK(result.manual.empty());
    CHECK(result.to_destination == json{{"firstname", "Sa"}});
    result = RecordMerger(contact_fields(), strategy(spec::ConflictStrategy::manual))
                 .merge(&kBase, side(source), side(dest), {"phone"}, json{{"phone", "R"}});
    CHECK(result.to_destination["phone"] == "R");
    CHECK(result.to_source == json{{"phone", "R"}});
    CHECK(result.merged["phone"] == "R");
  }
}

TEST_CASE("merge: a one-way field never flows the other way", "[merge]") {
  RecordMerger merger(contact_fields(), strategy(spec::ConflictStrategy::destination_wins));
  json source = kBase, destination = kBase;
  destination["company"] = "Edited at the destination";
  source["status"] = "edited at the source";
  auto result = merger.merge(&kBase, side(source), side(destination));
  CHECK(result.to_source.empty());
  CHECK(result.to_destination.empty());
  CHECK(result.merged == kBase);
  // Changed on its own side, it is written to the other even over a change there.
  source["company"] = "New";
  destination["status"] = "unsubscribed";
  result = merger.merge(&kBase, side(source), side(destination));
  CHECK(result.to_destination == json{{"company", "New"}});
  CHECK(result.to_source == json{{"status", "unsubscribed"}});
}

TEST_CASE("merge: empty = ignore leaves the other side's value when one side empties a field", "[merge]") {
  spec::ConflictsSpec conflicts;
  conflicts.ignore_empty = true;
  RecordMerger merger(contact_fields(), conflicts);
  json source = kBase;
  source["phone"] = "";
  auto result = merger.merge(&kBase, side(source), side(kBase));
  CHECK(result.to_destination.empty());
  CHECK(result.merged["phone"] == "1");
  REQUIRE(result.decisions.size() == 1);
  CHECK(result.decisions[0].rule == MergeRule::empty_ignored);
  // With the default ("sync") the emptying flows.
  result = RecordMerger(contact_fields(), {}).merge(&kBase, side(source), side(kBase));
  CHECK(result.to_destination == json{{"phone", ""}});
}

TEST_CASE("merge: at the first link, differing values are decided by [conflicts] baseline", "[merge]") {
  json source = {{"firstname", "Ann"}, {"phone", "S"}, {"company", "Acme"}, {"status", "a"}};
  json destination = {{"firstname", "Ann"}, {"phone", "D"}, {"company", "Other"}, {"status", "b"}};
  spec::ConflictsSpec conflicts;
  SECTION("most recent (the default), the source on a tie or without times") {
    auto result = RecordMerger(contact_fields(), conflicts).merge(nullptr, side(source, 1), side(destination, 5));
    CHECK(result.merged["phone"] == "D");
    CHECK(result.to_source == json{{"phone", "D"}, {"status", "b"}});
    // company only flows to the destination, status only to the source, whoever is newer.
    CHECK(result.to_destination == json{{"company", "Acme"}});
    result = RecordMerger(contact_fields(), conflicts).merge(nullptr, side(source), side(destination, 5));
    CHECK(result.merged["phone"] == "S");
  }
  SECTION("destination") {
    conflicts.baseline = spec::BaselineWinner::destination;
    auto result = RecordMerger(contact_fields(), conflicts).merge(nullptr, side(source, 9), side(destination, 1));
    CHECK(result.merged["phone"] == "D");
    CHECK(result.decisions[0].rule == MergeRule::baseline);
  }
}

// Whatever the two sides did since the base, merging gives values that are a fixpoint: once
// both sides hold the merged values (what the run writes), merging again writes nothing.
TEST_CASE("merge: writing what a merge decides leaves nothing to write (random edits)", "[merge][property]") {
  std::mt19937 random(16);
  const std::vector<json> values = {nullptr, "", "a", "b", 42, "42", json::array({"x"})};
  auto any = [&] { return values[random() % values.size()]; };
  for (int round = 0; round < 2000; ++round) {
    spec::ConflictsSpec conflicts;
    conflicts.strategy = static_cast<spec::ConflictStrategy>(random() % 3);  // not manual
    conflicts.ignore_empty = random() % 2 == 0;
    if (random() % 3 == 0) conflicts.owners["phone"] = random() % 2 ? "source" : "destination";
    RecordMerger merger(contact_fields(), conflicts);
    json base = {{"firstname", any()}, {"phone", any()}, {"company", any()}, {"status", any()}};
    json source = base, destination = base;
    for (const char* f : {"firstname", "phone", "company", "status"}) {
      if (random() % 2) source[f] = any();
      if (random() % 2) destination[f] = any();
    }
    const bool first_link = random() % 4 == 0;
    auto result = merger.merge(first_link ? nullptr : &base, side(source, random() % 3), side(destination, random() % 3));
    json s2 = source, d2 = destination;
    s2.merge_patch(result.to_source);
    d2.merge_patch(result.to_destination);
    INFO("base " << base << " source " << source << " destination " << destination);
    auto again = merger.merge(&result.merged, side(s2), side(d2));
    CHECK(again.to_source.empty());
    CHECK(again.to_destination.empty());
    // Fields written both ways end up equal on both sides.
    for (const char* f : {"firstname", "phone"}) {
      bool emptied_kept = conflicts.ignore_empty && (engine::is_empty_value(s2[f]) || engine::is_empty_value(d2[f]));
      if (!emptied_kept) CHECK(engine::values_equal(s2[f], d2[f]));
    }
  }
}
