// Bidirectional syncs between two SQLite databases, run by the real binary: a randomized
// convergence test against a model of the three-way merge, and a baseline of two systems that
// already share records.
#include "e2e/fixtures.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace synctool::e2e {

namespace {

const char* const kTwoWayConfig = R"(state_dir = ".synctool"
[connections.a]
type = "sqlite"
path = "a.db"
[connections.b]
type = "sqlite"
path = "b.db"
)";

// A record as both sides should hold it once a run has merged them.
struct Person {
  std::string email;  // as first written (the key is its lowercase form)
  std::string name, phone;
};

std::uint64_t two_way_writes(const nlohmann::json& report) {
  std::uint64_t n = 0;
  for (const char* side : {"source", "destination"})
    for (const char* count : {"created", "updated", "deleted"}) n += report.at(side).at(count).get<std::uint64_t>();
  return n;
}

// The people (a.db) <-> contacts (b.db) sync these tests run: `head` goes before [source]
// (mode), `tail` after [field_map] ([deletes], [conflicts]); `cursors` reads each side from a
// cursor column (updated_at / modified).
std::string people_sync(const std::string& head, const std::string& tail, bool cursors = false) {
  return "direction = \"bidirectional\"\n" + head + "[source]\nconnection = \"a\"\nobject = \"people\"\n" +
         (cursors ? "cursor_column = \"updated_at\"\n" : "") +
         "[destination]\nconnection = \"b\"\nobject = \"contacts\"\n" +
         (cursors ? "cursor_column = \"modified\"\n" : "") +
         "[match]\nsource = \"email\"\ndestination = \"email\"\nnormalize = [\"trim\", \"lowercase\"]\n"
         "[field_map]\nemail = \"email\"\nname = \"full_name\"\nphone = \"phone\"\n" +
         tail;
}

constexpr const char* kPeople = "email TEXT UNIQUE NOT NULL, name TEXT, phone TEXT";
constexpr const char* kContacts = "email TEXT UNIQUE NOT NULL, full_name TEXT, phone TEXT";

// Writes synctool.toml and syncs/ab.toml, and creates the tables `people` in a.db and
// `contacts` in b.db with the given columns after their id (none where "").
void set_up(const Project& project, const std::string& sync, const std::string& people = kPeople,
            const std::string& contacts = kContacts) {
  project.write_config(kTwoWayConfig);
  project.write_sync("ab", sync);
  if (!people.empty()) Db(project.path("a.db")).exec("CREATE TABLE people (id INTEGER PRIMARY KEY, " + people + ")");
  if (!contacts.empty())
    Db(project.path("b.db")).exec("CREATE TABLE contacts (id INTEGER PRIMARY KEY, " + contacts + ")");
}

// Every row of a side by lowercased email; fails on a duplicate key.
std::map<std::string, Person> read_side(const Db& db, const std::string& table, const std::string& name_column) {
  std::map<std::string, Person> out;
  for (auto& row : db.query("SELECT email, " + name_column + " AS name, phone FROM " + table)) {
    const std::string key = util::to_lower(row["email"]);
    INFO("table " << table << ", email " << row["email"]);
    REQUIRE_FALSE(out.contains(key));
    out[key] = Person{row["email"], row["name"], row["phone"]};
  }
  return out;
}

}  // namespace

TEST_CASE("two-way: 200 random rounds of edits, creates and deletes on both sides converge to the three-way merge",
          "[e2e][two-way][property]") {
  Project project;
  set_up(project, people_sync("mode = \"mirror\"\n",
                              "[deletes]\npropagate = \"delete\"\nmax = \"100%\"\n[conflicts]\nstrategy = \"source-wins\"\n"));
  Db a(project.path("a.db")), b(project.path("b.db"));

  std::mt19937 random(1606);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  const std::vector<std::string> names = {"Ann", "Bob", "Cy", "Dee", "Eve", ""};
  const std::vector<std::string> phones = {"1", "2", "3", ""};
  std::map<std::string, Person> model;  // what both sides hold after the last run
  int next_person = 0;

  auto set_field = [&](Db& db, bool at_a, const std::string& email, const std::string& field, const std::string& value) {
    const std::string column = field == "name" ? (at_a ? "name" : "full_name") : "phone";
    db.exec("UPDATE " + std::string(at_a ? "people" : "contacts") + " SET " + column + " = " +
            (value.empty() ? "NULL" : sql_quote(value)) + " WHERE lower(email) = " + sql_quote(util::to_lower(email)));
  };
  auto insert = [&](Db& db, bool at_a, const Person& p) {
    db.exec(std::string("INSERT INTO ") + (at_a ? "people (email, name, phone)" : "contacts (email, full_name, phone)") +
            " VALUES (" + sql_quote(p.email) + ", " + (p.name.empty() ? "NULL" : sql_quote(p.name)) + ", " +
            (p.phone.empty() ? "NULL" : sql_quote(p.phone)) + ")");
  };

  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    std::map<std::string, std::map<std::string, std::string>> edits_a, edits_b;  // key -> field -> value
    std::set<std::string> deleted_a, deleted_b;
    std::map<std::string, Person> created_a, created_b;
    std::vector<std::string> keys;
    for (const auto& [key, p] : model) keys.push_back(key);

    const int operations = 1 + pick(6);
    for (int op = 0; op < operations; ++op) {
      const int what = pick(10);
      if (what < 5 && !keys.empty()) {  // edit a field on one side or both
        const std::string& key = keys[static_cast<std::size_t>(pick(static_cast<int>(keys.size())))];
        const std::string field = pick(2) ? "name" : "phone";
        auto value = [&] {
          return field == "name" ? names[static_cast<std::size_t>(pick(static_cast<int>(names.size())))]
                                 : phones[static_cast<std::size_t>(pick(static_cast<int>(phones.size())))];
        };
        const int where = pick(3);
        if (where != 1 && !deleted_a.contains(key)) {
          auto v = value();
          set_field(a, true, key, field, v);
          edits_a[key][field] = v;
        }
        if (where != 0 && !deleted_b.contains(key)) {
          auto v = pick(2) && edits_a[key].contains(field) ? edits_a[key][field] : value();  // sometimes the same change
          set_field(b, false, key, field, v);
          edits_b[key][field] = v;
        }
      } else if (what < 8) {  // create on one side or both (the same person, another spelling)
        Person p{"Person" + std::to_string(next_person) + "@Example.com", names[static_cast<std::size_t>(pick(5))],
                 phones[static_cast<std::size_t>(pick(3))]};
        const std::string key = util::to_lower(p.email);
        ++next_person;
        const int where = pick(3);
        if (where != 1) {
          insert(a, true, p);
          created_a[key] = p;
        }
        if (where != 0) {
          Person q = p;
          q.email = key;
          if (pick(2)) q.phone = phones[static_cast<std::size_t>(pick(3))];
          insert(b, false, q);
          created_b[key] = q;
        }
      } else if (keys.size() > 6) {  // delete on one side (or both), keeping some population
        const std::string& key = keys[static_cast<std::size_t>(pick(static_cast<int>(keys.size())))];
        const int where = pick(3);
        if (where != 1) {
          a.exec("DELETE FROM people WHERE lower(email) = " + sql_quote(key));
          deleted_a.insert(key);
        }
        if (where != 0) {
          b.exec("DELETE FROM contacts WHERE lower(email) = " + sql_quote(key));
          deleted_b.insert(key);
        }
      }
    }

    // The model's three-way merge: one side's change wins; both sides changed: the source.
    std::map<std::string, Person> expected;
    for (const auto& [key, base] : model) {
      const bool gone_a = deleted_a.contains(key), gone_b = deleted_b.contains(key);
      Person merged = base;
      auto apply = [&](const std::map<std::string, std::string>& edits) {
        for (const auto& [field, value] : edits) (field == "name" ? merged.name : merged.phone) = value;
      };
      if (gone_a && gone_b) continue;
      if (gone_a || gone_b) {
        // A delete wins unless the other side edited the record (to a value other than the base).
        const auto& edits = gone_a ? edits_b[key] : edits_a[key];
        bool edited = false;
        for (const auto& [field, value] : edits)
          if (value != (field == "name" ? base.name : base.phone)) edited = true;
        if (!edited) continue;
        apply(edits);
        expected[key] = merged;
        continue;
      }
      // Per field: a change (to a value other than the base) on one side wins; on both, the source's.
      for (const std::string field : {"name", "phone"}) {
        const std::string& before = field == "name" ? base.name : base.phone;
        auto changed = [&](std::map<std::string, std::map<std::string, std::string>>& edits) {
          auto it = edits[key].find(field);
          return it != edits[key].end() && it->second != before ? std::optional<std::string>(it->second) : std::nullopt;
        };
        auto at_a = changed(edits_a), at_b = changed(edits_b);
        if (at_a || at_b) (field == "name" ? merged.name : merged.phone) = at_a ? *at_a : *at_b;
      }
      expected[key] = merged;
    }
    for (const auto& [key, p] : created_b) expected[key] = p;
    for (const auto& [key, p] : created_a) {
      // Created on both sides: at the first link the source's values win (no modification times).
      expected[key] = p;
    }

    auto run = project.run({"run", "ab", "--json"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    auto side_a = read_side(a, "people", "name");
    auto side_b = read_side(b, "contacts", "full_name");
    REQUIRE(side_a.size() == expected.size());
    REQUIRE(side_b.size() == expected.size());
    for (const auto& [key, p] : expected) {
      INFO("key " << key);
      REQUIRE(side_a.contains(key));
      REQUIRE(side_b.contains(key));
      CHECK(side_a[key].name == p.name);
      CHECK(side_a[key].phone == p.phone);
      CHECK(side_b[key].name == p.name);
      CHECK(side_b[key].phone == p.phone);
    }
    auto again = project.run({"run", "ab", "--json"});
    INFO(again.describe());
    REQUIRE(again.exit_code == 0);
    CHECK(two_way_writes(again.json()) == 0);
    model = std::move(expected);
  }
}

TEST_CASE("two-way baseline: systems sharing 40% of their records link them, create the rest, and the newer value wins",
          "[e2e][two-way]") {
  Project project;
  set_up(project, people_sync("", "", true), std::string(kPeople) + ", updated_at TEXT",
         std::string(kContacts) + ", modified TEXT");
  Db a(project.path("a.db")), b(project.path("b.db"));
  // 100 people in each; 40 of A's are also in B, with their email in another case. Of the 40,
  // 20 have another name in B: B's row is newer for 10 of them, older for the other 10.
  for (int i = 0; i < 100; ++i) {
    a.exec(fmt::format("INSERT INTO people (email, name, phone, updated_at) VALUES ('Shared{}@Example.COM', 'A{}', "
                       "'{}', '2026-01-02T00:00:00Z')",
                       i, i, i));
    if (i < 40) {
      const bool differs = i < 20;
      const bool newer = i < 10;
      b.exec(fmt::format("INSERT INTO contacts (email, full_name, phone, modified) VALUES ('shared{}@example.com', "
                         "'{}', '{}', '{}')",
                         i, differs ? "B" + std::to_string(i) : "A" + std::to_string(i), i,
                         newer ? "2026-01-03T00:00:00Z" : "2026-01-01T00:00:00Z"));
    } else {
      b.exec(fmt::format("INSERT INTO contacts (email, full_name, phone, modified) VALUES ('only-b{}@example.com', "
                         "'OnlyB{}', NULL, '2026-01-01T00:00:00Z')",
                         i, i));
    }
  }
  // One person under two addresses of one domain: reported as a possible duplicate, not merged.
  a.exec("INSERT INTO people (email, name, phone, updated_at) VALUES ('Dana.Scully@FBI.gov', 'Dana Scully', '9', NULL)");
  b.exec("INSERT INTO contacts (email, full_name, phone, modified) VALUES ('dscully@fbi.gov', 'Dana  Scully', NULL, NULL)");
  auto diff = project.run({"diff", "ab", "--json"});
  INFO(diff.describe());
  REQUIRE(diff.exit_code == 0);
  const nlohmann::json duplicate = {
      {"source_key", "dana.scully@fbi.gov"}, {"destination_key", "dscully@fbi.gov"}, {"reason", "similar name on the same email domain"}};
  CHECK(diff.json().at("report").at("possible_duplicates") == nlohmann::json::array({duplicate}));
  auto run = project.run({"run", "ab", "--json"});
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  auto report = run.json();
  CHECK(report.at("destination").at("created") == 61);  // A's 60 unshared people and Dana
  CHECK(report.at("source").at("created") == 61);       // B's 60 and Dana's other address
  CHECK(report.at("possible_duplicates") == nlohmann::json::array({duplicate}));
  CHECK(report.at("source").at("updated") == 10);       // B newer: its name goes to A
  CHECK(report.at("destination").at("updated") == 10);  // A newer: its name goes to B
  CHECK(diff.json().at("report").at("destination").at("created") == 61);
  CHECK(diff.json().at("report").at("source").at("updated") == 10);

  auto side_a = read_side(a, "people", "name");
  auto side_b = read_side(b, "contacts", "full_name");
  CHECK(side_a.size() == 162);
  CHECK(side_b.size() == 162);
  for (int i = 0; i < 40; ++i) {
    const std::string key = "shared" + std::to_string(i) + "@example.com";
    const std::string winner = i < 10 ? "B" + std::to_string(i) : "A" + std::to_string(i);
    CHECK(side_a[key].name == winner);
    CHECK(side_b[key].name == winner);
    CHECK(side_a[key].email == "Shared" + std::to_string(i) + "@Example.COM");  // keys are never rewritten
    CHECK(side_b[key].email == key);
  }
  auto again = project.run({"run", "ab", "--json"});
  REQUIRE(again.exit_code == 0);
  CHECK(two_way_writes(again.json()) == 0);

  // Incremental from here: each side read from its own cursor.
  a.exec("UPDATE people SET phone = '555', updated_at = '2026-02-01T00:00:00Z' WHERE email = 'Shared50@Example.COM'");
  b.exec("UPDATE contacts SET full_name = 'Renamed', modified = '2026-02-01T00:00:00Z' WHERE email = "
         "'only-b70@example.com'");
  auto incremental = project.run({"run", "ab", "--json"});
  INFO(incremental.describe());
  REQUIRE(incremental.exit_code == 0);
  auto inc = incremental.json();
  CHECK(inc.at("kind") == "incremental");
  CHECK(inc.at("destination").at("updated") == 1);
  CHECK(inc.at("source").at("updated") == 1);
  CHECK(b.query("SELECT phone FROM contacts WHERE lower(email) = 'shared50@example.com'").at(0).at("phone") == "555");
  CHECK(a.query("SELECT name FROM people WHERE email = 'only-b70@example.com'").at(0).at("name") == "Renamed");
}

TEST_CASE("two-way manual conflicts: queued with both values and the base, listed, resolved, then written to both sides",
          "[e2e][two-way]") {
  Project project;
  set_up(project, people_sync("", "[conflicts]\nstrategy = \"manual\"\n"));
  Db a(project.path("a.db")), b(project.path("b.db"));
  a.exec("INSERT INTO people (email, name, phone) VALUES ('ann@x.io', 'Ann', '1'), ('bob@x.io', 'Bob', '2')");
  REQUIRE(project.run({"run", "ab"}).exit_code == 0);

  a.exec("UPDATE people SET phone = 'from A', name = 'Ann A' WHERE email = 'ann@x.io'");
  b.exec("UPDATE contacts SET phone = 'from B' WHERE email = 'ann@x.io'");
  auto run = project.run({"run", "ab", "--json"});
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  CHECK(run.json().at("conflicts").at("queued") == 1);
  // The other field still synced; the conflicting one is left as each side has it.
  CHECK(b.query("SELECT full_name, phone FROM contacts WHERE email = 'ann@x.io'").at(0) ==
        Row{{"full_name", "Ann A"}, {"phone", "from B"}});
  CHECK(a.query("SELECT phone FROM people WHERE email = 'ann@x.io'").at(0).at("phone") == "from A");

  auto listed = project.run({"conflicts", "ab", "--json"});
  INFO(listed.describe());
  REQUIRE(listed.exit_code == 0);
  auto conflicts = listed.json().at("conflicts");
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].at("key") == "ann@x.io");
  CHECK(conflicts[0].at("fields") ==
        nlohmann::json::array({{{"field", "phone"}, {"source", "from A"}, {"destination", "from B"}, {"base", "1"}}}));

  // Later runs leave the queued field alone, also when one side edits it again.
  b.exec("UPDATE contacts SET phone = 'from B again' WHERE email = 'ann@x.io'");
  auto again = project.run({"run", "ab", "--json"});
  REQUIRE(again.exit_code == 0);
  CHECK(a.query("SELECT phone FROM people WHERE email = 'ann@x.io'").at(0).at("phone") == "from A");

  CHECK(project.run({"conflicts", "resolve", "ab", "nobody@x.io", "--take", "source"}).exit_code == 2);
  CHECK(project.run({"conflicts", "resolve", "ab", "ann@x.io"}).exit_code == 2);  // neither --take nor --set
  CHECK(project.run({"conflicts", "resolve", "ab", "ann@x.io", "--set", "nope=1"}).exit_code == 2);
  auto resolved = project.run({"conflicts", "resolve", "ab", "ann@x.io", "--take", "destination"});
  INFO(resolved.describe());
  REQUIRE(resolved.exit_code == 0);
  auto after = project.run({"run", "ab", "--json"});
  INFO(after.describe());
  REQUIRE(after.exit_code == 0);
  CHECK(a.query("SELECT phone FROM people WHERE email = 'ann@x.io'").at(0).at("phone") == "from B again");
  CHECK(b.query("SELECT phone FROM contacts WHERE email = 'ann@x.io'").at(0).at("phone") == "from B again");
  CHECK(project.run({"conflicts", "ab", "--json"}).json().at("conflicts").empty());
  CHECK(two_way_writes(project.run({"run", "ab", "--json"}).json()) == 0);

  // --set picks a value of one's own.
  a.exec("UPDATE people SET phone = 'A3' WHERE email = 'bob@x.io'");
  b.exec("UPDATE contacts SET phone = 'B3' WHERE email = 'bob@x.io'");
  REQUIRE(project.run({"run", "ab"}).exit_code == 0);
  REQUIRE(project.run({"conflicts", "resolve", "ab", "bob@x.io", "--set", "phone=555"}).exit_code == 0);
  REQUIRE(project.run({"run", "ab"}).exit_code == 0);
  CHECK(a.query("SELECT phone FROM people WHERE email = 'bob@x.io'").at(0).at("phone") == "555");
  CHECK(b.query("SELECT phone FROM contacts WHERE email = 'bob@x.io'").at(0).at("phone") == "555");
}

// SIGKILL at random moments of two-way runs (baselines and incremental runs with edits and
// conflicts on both sides), each followed by runs until one completes: both sides then hold
// exactly the merge (source wins), no key twice, and one more run writes nothing.
TEST_CASE("two-way runs killed at random moments converge without duplicates or lost edits", "[e2e][two-way][crash]") {
  Project project;
  set_up(project, people_sync("", "[conflicts]\nstrategy = \"source-wins\"\nbaseline = \"source\"\n"), "", "");
  const char* env_kills = std::getenv("SYNCTOOL_E2E_CRASH_KILLS");
  const int kills = env_kills && *env_kills ? std::stoi(env_kills) : 20;
  const char* env_seed = std::getenv("SYNCTOOL_E2E_SEED");
  const auto seed = static_cast<std::uint32_t>(env_seed && *env_seed ? std::stoul(env_seed) : 20261206);
  INFO("random seed " << seed << " (set SYNCTOOL_E2E_SEED to replay)");
  std::mt19937 random(seed);
  constexpr int kPeople = 2000;  // 3,000 keys: three chunks on the baseline; half of B's are A's too

  std::map<std::string, Person> expected;
  auto reset = [&] {
    fs::remove_all(project.path(".synctool"));
    Db a(project.path("a.db")), b(project.path("b.db"));
    a.exec("DROP TABLE IF EXISTS people");
    b.exec("DROP TABLE IF EXISTS contacts");
    // No unique constraint on email: a record created twice would show as two rows.
    a.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, phone TEXT)");
    b.exec("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name TEXT, phone TEXT)");
    a.exec("BEGIN");
    b.exec("BEGIN");
    expected.clear();
    for (int i = 0; i < kPeople; ++i) {
      const std::string email = "Person" + std::to_string(i) + "@Example.com";
      a.exec(fmt::format("INSERT INTO people (email, name, phone) VALUES ('{}', 'A{}', '{}')", email, i, i));
      expected[util::to_lower(email)] = Person{email, "A" + std::to_string(i), std::to_string(i)};
      if (i % 2 == 0) {  // also in B, lowercase, another name: the source wins at the first link
        b.exec(fmt::format("INSERT INTO contacts (email, full_name, phone) VALUES ('{}', 'B{}', '{}')",
                           util::to_lower(email), i, i));
      } else {
        const std::string own = "b-only" + std::to_string(i) + "@example.com";
        b.exec(fmt::format("INSERT INTO contacts (email, full_name, phone) VALUES ('{}', 'B{}', NULL)", own, i));
        expected[own] = Person{own, "B" + std::to_string(i), ""};
      }
    }
    a.exec("COMMIT");
    b.exec("COMMIT");
  };
  auto check_sides = [&] {
    Db a(project.path("a.db")), b(project.path("b.db"));
    auto side_a = read_side(a, "people", "name");
    auto side_b = read_side(b, "contacts", "full_name");
    REQUIRE(side_a.size() == expected.size());
    REQUIRE(side_b.size() == expected.size());
    std::size_t wrong = 0;
    for (const auto& [key, p] : expected) {
      for (auto* side : {&side_a, &side_b}) {
        auto it = side->find(key);
        if (it == side->end() || it->second.name != p.name || it->second.phone != p.phone) {
          if (++wrong <= 5) {
            INFO("key " << key << " expected " << p.name << "/" << p.phone << " found "
                        << (it == side->end() ? "nothing" : it->second.name + "/" + it->second.phone));
            CHECK(false);
          }
        }
      }
    }
    REQUIRE(wrong == 0);
  };
  auto run_to_completion = [&] {
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto r = project.run({"run", "ab", "--json"});
      if (r.exit_code == 0) return;
      INFO(r.describe());
      REQUIRE(r.exit_code == 3);  // a connector error may stop a run; the next one goes on
    }
    FAIL("five runs in a row did not complete");
  };
  // An edit round: names edited at A, phones at B, and some names at both (A wins).
  auto edit = [&](int round) {
    Db a(project.path("a.db")), b(project.path("b.db"));
    std::vector<std::string> keys;
    for (const auto& [key, p] : expected) keys.push_back(key);
    for (int i = 0; i < 150; ++i) {
      const std::string& key = keys[random() % keys.size()];
      const std::string name = fmt::format("A-{}-{}", round, i), phone = fmt::format("B-{}-{}", round, i);
      a.exec("UPDATE people SET name = " + sql_quote(name) + " WHERE lower(email) = " + sql_quote(key));
      b.exec("UPDATE contacts SET phone = " + sql_quote(phone) + " WHERE lower(email) = " + sql_quote(key));
      if (i % 5 == 0)
        b.exec("UPDATE contacts SET full_name = " + sql_quote("lost-" + name) + " WHERE lower(email) = " + sql_quote(key));
      expected[key].name = name;
      expected[key].phone = phone;
    }
  };

  KillRounds rounds;
  rounds.reset = reset;
  rounds.edit = edit;
  rounds.run_to_completion = run_to_completion;
  rounds.check = check_sides;
  rounds.check_quiet = [&] {
    auto again = project.run({"run", "ab", "--json"});
    INFO(again.describe());
    REQUIRE(again.exit_code == 0);
    CHECK(two_way_writes(again.json()) == 0);
  };
  rounds.spawn = [&] { return std::make_unique<Spawned>(project.root(), std::vector<std::string>{"run", "ab", "--json"}); };
  rounds.kills = kills;
  const auto summary = kill_rounds(rounds, random);
  std::cout << "two-way crash: seed " << seed << ", " << summary.landed << " kills landed, " << summary.too_late
            << " runs finished first, " << summary.rounds << " rounds; a baseline of " << kPeople << " + " << kPeople / 2
            << " records took " << summary.baseline_ms << " ms, an incremental run " << summary.incremental_ms << " ms\n";
  CHECK(summary.landed >= kills);
}

TEST_CASE("two-way: a value one side cannot hold is a reject that diff predicts, and nothing of it is sent",
          "[e2e][two-way]") {
  Project project;
  // A NUMERIC column cannot hold every decimal exactly: the connector refuses those up front.
  set_up(project, people_sync("", ""), kPeople, "email TEXT UNIQUE NOT NULL, full_name TEXT, phone NUMERIC");
  Db a(project.path("a.db")), b(project.path("b.db"));
  a.exec("INSERT INTO people (email, name, phone) VALUES ('ann@x.io', 'Ann', '1'), ('bob@x.io', 'Bob', '2')");
  REQUIRE(project.run({"run", "ab"}).exit_code == 0);

  a.exec("UPDATE people SET phone = '12345678901234567.89' WHERE email = 'ann@x.io'");
  a.exec("UPDATE people SET name = 'Bobby' WHERE email = 'bob@x.io'");
  auto diff = project.run({"diff", "ab", "--json"});
  INFO(diff.describe());
  auto predicted = diff.json().at("report");
  CHECK(predicted.at("destination").at("rejected") == 1);
  CHECK(predicted.at("destination").at("updated") == 1);

  auto run = project.run({"run", "ab", "--json"});
  INFO(run.describe());
  CHECK(run.exit_code == 1);  // a new reject
  auto report = run.json();
  CHECK(report.at("destination").at("rejected") == 1);
  CHECK(report.at("destination").at("updated") == 1);
  REQUIRE(report.at("rejected").size() == 1);
  CHECK(report.at("rejected")[0].at("key") == "ann@x.io");
  CHECK(b.query("SELECT phone FROM contacts WHERE email = 'ann@x.io'").at(0).at("phone") == "1");
  CHECK(b.query("SELECT full_name FROM contacts WHERE email = 'bob@x.io'").at(0).at("full_name") == "Bobby");
  // Not new the next time; fixed at the source, it goes through.
  CHECK(project.run({"run", "ab"}).exit_code == 0);
  a.exec("UPDATE people SET phone = '42' WHERE email = 'ann@x.io'");
  auto fixed = project.run({"run", "ab", "--json"});
  INFO(fixed.describe());
  CHECK(fixed.exit_code == 0);
  CHECK(b.query("SELECT phone FROM contacts WHERE email = 'ann@x.io'").at(0).at("phone") == "42");
  CHECK(project.run({"state", "show", "ab", "--json"}).json().at("failed").empty());
}

TEST_CASE("two-way: a row without a key or with a duplicate key alerts once, then is listed until it is fixed",
          "[e2e][two-way]") {
  Project project;
  set_up(project, people_sync("", ""), "email TEXT, name TEXT, phone TEXT", "email TEXT, full_name TEXT, phone TEXT");
  Db a(project.path("a.db")), b(project.path("b.db"));
  a.exec("INSERT INTO people (id, email, name) VALUES (1, 'ann@x.io', 'Ann'), (2, NULL, 'No Key'), (3, 'Cy@x.io', 'Cy'), "
         "(4, 'cy@x.io', 'Cy again')");
  auto first = project.run({"run", "ab", "--json"});
  INFO(first.describe());
  CHECK(first.exit_code == 1);
  CHECK(first.json().at("source").at("rejected") == 2);
  for (int i = 0; i < 2; ++i) {  // listed, not new: exit 0, and the state keeps them
    auto again = project.run({"run", "ab", "--json"});
    INFO(again.describe());
    CHECK(again.exit_code == 0);
    CHECK(again.json().at("source").at("rejected") == 2);
    CHECK(again.json().at("new_problems") == 0);
    CHECK(project.run({"state", "show", "ab", "--json"}).json().at("failed").size() == 2);
  }
  a.exec("UPDATE people SET email = 'nokey@x.io' WHERE id = 2");
  a.exec("DELETE FROM people WHERE id = 4");
  auto fixed = project.run({"run", "ab", "--json"});
  INFO(fixed.describe());
  CHECK(fixed.exit_code == 0);
  CHECK(fixed.json().at("destination").at("created") == 2);  // nokey@ and cy@ now
  CHECK(project.run({"state", "show", "ab", "--json"}).json().at("failed").empty());
  CHECK(b.count("contacts") == 3);
}

}  // namespace synctool::e2e

namespace synctool::e2e {

TEST_CASE("two-way with a filter: only records in it on both sides sync; one that leaves it is left alone, not deleted",
          "[e2e][two-way]") {
  Project project;
  set_up(project,
         "direction = \"bidirectional\"\nmode = \"mirror\"\n[source]\nconnection = \"a\"\nobject = \"people\"\n"
         "filter = \"stage = 'customer'\"\n[destination]\nconnection = \"b\"\nobject = \"contacts\"\n"
         "[match]\nsource = \"email\"\ndestination = \"email\"\n"
         "[field_map]\nemail = \"email\"\nname = \"full_name\"\nstage = \"lifecycle\"\n"
         "[deletes]\npropagate = \"delete\"\nmax = \"100%\"\n",
         "email TEXT UNIQUE NOT NULL, name TEXT, stage TEXT", "email TEXT UNIQUE NOT NULL, full_name TEXT, lifecycle TEXT");
  Db a(project.path("a.db")), b(project.path("b.db"));
  a.exec("INSERT INTO people (email, name, stage) VALUES ('ann@x.io', 'Ann', 'customer'), ('bob@x.io', 'Bob', 'lead'), "
         "('eve@x.io', 'Eve', 'customer')");
  b.exec("INSERT INTO contacts (email, full_name, lifecycle) VALUES ('cy@x.io', 'Cy', 'customer'), "
         "('dee@x.io', 'Dee', 'lead'), ('eve@x.io', 'Eve B', 'lead')");
  auto first = project.run({"run", "ab", "--json"});
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  // Ann goes to B, Cy to A; Bob and Dee are outside the filter; Eve is a customer at A and a
  // lead at B: out of the filter on one side, so neither side's values are written.
  CHECK(first.json().at("destination").at("created") == 1);
  CHECK(first.json().at("source").at("created") == 1);
  CHECK(b.query("SELECT full_name, lifecycle FROM contacts WHERE email = 'ann@x.io'").at(0) ==
        Row{{"full_name", "Ann"}, {"lifecycle", "customer"}});
  CHECK(a.query("SELECT name, stage FROM people WHERE email = 'cy@x.io'").at(0) ==
        Row{{"name", "Cy"}, {"stage", "customer"}});
  CHECK(a.count("people") == 4);
  CHECK(b.count("contacts") == 4);
  CHECK(b.query("SELECT full_name FROM contacts WHERE email = 'eve@x.io'").at(0).at("full_name") == "Eve B");

  // Ann leaves the filter at A and is renamed at B: nothing flows, and mirror deletes nothing.
  a.exec("UPDATE people SET stage = 'churned' WHERE email = 'ann@x.io'");
  b.exec("UPDATE contacts SET full_name = 'Ann B' WHERE email = 'ann@x.io'");
  b.exec("DELETE FROM contacts WHERE email = 'dee@x.io'");
  auto out = project.run({"run", "ab", "--json"});
  INFO(out.describe());
  REQUIRE(out.exit_code == 0);
  CHECK(two_way_writes(out.json()) == 0);
  CHECK(a.query("SELECT name FROM people WHERE email = 'ann@x.io'").at(0).at("name") == "Ann");
  CHECK(b.query("SELECT lifecycle FROM contacts WHERE email = 'ann@x.io'").at(0).at("lifecycle") == "customer");

  // Back in the filter: merged against the old base, so each side's change reaches the other.
  a.exec("UPDATE people SET stage = 'customer' WHERE email = 'ann@x.io'");
  auto back = project.run({"run", "ab", "--json"});
  INFO(back.describe());
  REQUIRE(back.exit_code == 0);
  CHECK(a.query("SELECT name FROM people WHERE email = 'ann@x.io'").at(0).at("name") == "Ann B");
  CHECK(b.query("SELECT full_name FROM contacts WHERE email = 'ann@x.io'").at(0).at("full_name") == "Ann B");

  // A delete inside the filter still flows.
  b.exec("DELETE FROM contacts WHERE email = 'cy@x.io'");
  auto deleted = project.run({"run", "ab", "--json"});
  INFO(deleted.describe());
  REQUIRE(deleted.exit_code == 0);
  CHECK(deleted.json().at("source").at("deleted") == 1);
  CHECK(a.count("people") == 3);  // ann, bob, eve
  CHECK(two_way_writes(project.run({"run", "ab", "--json"}).json()) == 0);
}

}  // namespace synctool::e2e
