// Bidirectional syncs between a SQLite table and the HubSpot emulator, run by the real binary:
// a randomized convergence test against a model of the three-way merge (HubSpot read for its
// changes since the cursor, its archived contacts as deletes), and SIGKILL at random moments of
// runs while HubSpot answers with injected faults.
#include "e2e/hubspot_fixtures.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace synctool::e2e {

namespace {

// A contact as both sides should hold it after a run.
struct Person {
  std::string email;
  std::string name, phone;
  bool operator==(const Person&) const = default;
};

// people (a.db, read whole every run) <-> HubSpot contacts (read since the cursor), by email.
std::string people_hubspot_sync(const std::string& tail) {
  return "direction = \"bidirectional\"\nmode = \"mirror\"\n"
         "[source]\nconnection = \"a\"\nobject = \"people\"\n"
         "[destination]\nconnection = \"hubspot\"\nobject = \"contacts\"\n"
         "[match]\nsource = \"email\"\ndestination = \"email\"\nnormalize = [\"trim\", \"lowercase\"]\n"
         "[field_map]\nemail = \"email\"\nname = \"firstname\"\nphone = \"phone\"\n"
         "[deletes]\npropagate = \"delete\"\nmax = \"100%\"\n"
         "[conflicts]\nstrategy = \"source-wins\"\nbaseline = \"source\"\n" +
         tail;
}

void write_project(const Project& project, const hs::HubspotEmulator& emu) {
  project.write_config("state_dir = \".synctool\"\n[connections.a]\ntype = \"sqlite\"\npath = \"a.db\"\n" +
                       hubspot_connection_toml(connection_to(emu, [](HubspotConnection& c) { c.max_retries = 6; })));
}

std::uint64_t two_way_writes(const nlohmann::json& report) {
  std::uint64_t n = 0;
  for (const char* side : {"source", "destination"})
    for (const char* count : {"created", "updated", "deleted"}) n += report.at(side).at(count).get<std::uint64_t>();
  return n;
}

// SQLite rows by lowercased email (NULL reads as ""); fails on a key held twice.
std::map<std::string, Person> sqlite_people(const Db& db) {
  std::map<std::string, Person> out;
  for (auto& row : db.query("SELECT email, name, phone FROM people")) {
    const std::string key = util::to_lower(row["email"]);
    INFO("people: email " << row["email"] << " twice");
    REQUIRE_FALSE(out.contains(key));
    out[key] = Person{row["email"], row["name"], row["phone"]};
  }
  return out;
}

// Live HubSpot contacts by lowercased email, with their ids in `ids` when given.
std::map<std::string, Person> hubspot_people(const hs::HubspotEmulator& emu,
                                             std::map<std::string, std::string>* ids = nullptr) {
  std::map<std::string, Person> out;
  for (const auto& record : emu.records("contacts")) {
    const auto& p = record.at("properties");
    auto text = [&](const char* name) {
      auto it = p.find(name);
      return it == p.end() || it->is_null() ? std::string() : it->get<std::string>();
    };
    const std::string key = util::to_lower(text("email"));
    INFO("HubSpot: email " << key << " twice");
    REQUIRE_FALSE(out.contains(key));
    out[key] = Person{text("email"), text("firstname"), text("phone")};
    if (ids) (*ids)[key] = record.at("id").get<std::string>();
  }
  return out;
}

// "" when `side` holds exactly `expected` (names and phones by key), else the first differences.
std::string differences(const char* what, const std::map<std::string, Person>& side,
                        const std::map<std::string, Person>& expected) {
  std::string out;
  int shown = 0;
  auto add = [&](const std::string& line) {
    if (shown++ < 5) out += std::string(what) + ": " + line + "\n";
  };
  for (const auto& [key, p] : expected) {
    auto it = side.find(key);
    if (it == side.end())
      add(key + " missing");
    else if (it->second.name != p.name || it->second.phone != p.phone)
      add(key + " holds " + it->second.name + "/" + it->second.phone + ", expected " + p.name + "/" + p.phone);
  }
  for (const auto& [key, p] : side)
    if (!expected.contains(key)) add(key + " should not be there");
  if (shown > 5) out += fmt::format("{}: {} differences in all\n", what, shown);
  return out;
}

// The test's own calls to the emulator (not synctool's), which must succeed.
void hubspot_call(const hs::HubspotEmulator& emu, const std::string& method, const std::string& path,
                  const nlohmann::json& body) {
  auto answer = emulator_call(emu, method, path, body.is_null() ? nullptr : &body);
  INFO(method << " " << path << " " << body.dump() << " answered " << answer.status << " " << answer.body
              << answer.error);
  REQUIRE(answer.status / 100 == 2);
}

}  // namespace

TEST_CASE("two-way SQLite <-> HubSpot: 200 random rounds of edits, creates and deletes on both sides converge",
          "[e2e][two-way][hubspot][property]") {
  hs::HubspotEmulator emu(generous_emulator_options());
  start_emulator(emu);
  Project project;
  write_project(project, emu);
  project.write_sync("ab", people_hubspot_sync(""));
  Db a(project.path("a.db"));
  a.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, name TEXT, phone TEXT)");
  const Env env = hubspot_env();

  std::mt19937 random(1712);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  const std::vector<std::string> names = {"Ann", "Bob", "Cy", "Dee", "Eve", ""};
  const std::vector<std::string> phones = {"1", "2", "3", ""};
  std::map<std::string, Person> model;  // what both sides hold after the last run
  int next_person = 0;

  auto set_at_a = [&](const std::string& key, const std::string& field, const std::string& value) {
    a.exec("UPDATE people SET " + field + " = " + (value.empty() ? "NULL" : sql_quote(value)) +
           " WHERE lower(email) = " + sql_quote(key));
  };
  auto set_at_hubspot = [&](const std::string& id, const std::string& field, const std::string& value) {
    hubspot_call(emu, "PATCH", "/crm/v3/objects/contacts/" + id,
                 {{"properties", {{field == "name" ? "firstname" : "phone", value}}}});
  };

  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    std::map<std::string, std::string> hubspot_ids;
    hubspot_people(emu, &hubspot_ids);
    std::map<std::string, std::map<std::string, std::string>> edits_a, edits_h;  // key -> field -> value
    std::set<std::string> deleted_a, deleted_h;
    std::map<std::string, Person> created_a, created_h;
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
          set_at_a(key, field, v);
          edits_a[key][field] = v;
        }
        if (where != 0 && !deleted_h.contains(key)) {
          auto v = pick(2) && edits_a[key].contains(field) ? edits_a[key][field] : value();  // sometimes the same change
          set_at_hubspot(hubspot_ids.at(key), field, v);
          edits_h[key][field] = v;
        }
      } else if (what < 8) {  // create on one side or both (the same person, another spelling)
        Person p{"Person" + std::to_string(next_person) + "@Example.com", names[static_cast<std::size_t>(pick(5))],
                 phones[static_cast<std::size_t>(pick(3))]};
        const std::string key = util::to_lower(p.email);
        ++next_person;
        const int where = pick(3);
        if (where != 1) {
          a.exec("INSERT INTO people (email, name, phone) VALUES (" + sql_quote(p.email) + ", " +
                 (p.name.empty() ? "NULL" : sql_quote(p.name)) + ", " + (p.phone.empty() ? "NULL" : sql_quote(p.phone)) +
                 ")");
          created_a[key] = p;
        }
        if (where != 0) {
          Person q = p;
          q.email = key;
          if (pick(2)) q.phone = phones[static_cast<std::size_t>(pick(3))];
          hubspot_call(emu, "POST", "/crm/v3/objects/contacts",
                       {{"properties", {{"email", q.email}, {"firstname", q.name}, {"phone", q.phone}}}});
          created_h[key] = q;
        }
      } else if (keys.size() > 6) {  // delete (archive at HubSpot) on one side or both
        const std::string& key = keys[static_cast<std::size_t>(pick(static_cast<int>(keys.size())))];
        const int where = pick(3);
        if (where != 1 && !deleted_a.contains(key)) {
          a.exec("DELETE FROM people WHERE lower(email) = " + sql_quote(key));
          deleted_a.insert(key);
        }
        if (where != 0 && !deleted_h.contains(key)) {
          hubspot_call(emu, "DELETE", "/crm/v3/objects/contacts/" + hubspot_ids.at(key), nullptr);
          deleted_h.insert(key);
        }
      }
    }

    // The model's three-way merge, as in the SQLite <-> SQLite test: one side's change wins;
    // both sides changed a field: the source's value; a delete loses to an edit on the other side.
    std::map<std::string, Person> expected;
    for (const auto& [key, base] : model) {
      const bool gone_a = deleted_a.contains(key), gone_h = deleted_h.contains(key);
      Person merged = base;
      auto value_of = [](const Person& p, const std::string& field) { return field == "name" ? p.name : p.phone; };
      auto apply = [&](const std::map<std::string, std::string>& edits) {
        for (const auto& [field, value] : edits) (field == "name" ? merged.name : merged.phone) = value;
      };
      if (gone_a && gone_h) continue;
      if (gone_a || gone_h) {
        const auto& edits = gone_a ? edits_h[key] : edits_a[key];
        bool edited = false;
        for (const auto& [field, value] : edits)
          if (value != value_of(base, field)) edited = true;
        if (!edited) continue;
        apply(edits);
        expected[key] = merged;
        continue;
      }
      for (const std::string field : {"name", "phone"}) {
        auto changed = [&](std::map<std::string, std::map<std::string, std::string>>& edits) {
          auto it = edits[key].find(field);
          return it != edits[key].end() && it->second != value_of(base, field) ? std::optional<std::string>(it->second)
                                                                                : std::nullopt;
        };
        auto at_a = changed(edits_a), at_h = changed(edits_h);
        if (at_a || at_h) (field == "name" ? merged.name : merged.phone) = at_a ? *at_a : *at_h;
      }
      expected[key] = merged;
    }
    for (const auto& [key, p] : created_h) expected[key] = p;
    for (const auto& [key, p] : created_a) expected[key] = p;  // created on both: the source's values (baseline = source)

    auto run = project.run({"run", "ab", "--json"}, env);
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    const std::string wrong = differences("people", sqlite_people(a), expected) +
                              differences("HubSpot", hubspot_people(emu), expected);
    INFO(wrong);
    REQUIRE(wrong.empty());
    auto again = project.run({"run", "ab", "--json"}, env);
    INFO(again.describe());
    REQUIRE(again.exit_code == 0);
    CHECK(two_way_writes(again.json()) == 0);
    model = std::move(expected);
  }
  std::cout << "two-way SQLite <-> HubSpot: 200 rounds, " << model.size() << " contacts at the end, "
            << emu.stats().at("requests") << " HubSpot requests\n";
}

// SIGKILL at random moments of SQLite <-> HubSpot runs (baselines and incremental runs with
// edits on both sides) while HubSpot answers a share of the calls with 429s, 5xx, timeouts,
// dropped connections, lost responses (the write done, the answer lost) and malformed bodies;
// each followed by runs until one completes: both sides then hold exactly the merge, no key
// twice, and one more run writes nothing.
TEST_CASE("two-way SQLite <-> HubSpot runs killed at random moments through injected faults converge",
          "[e2e][two-way][hubspot][crash]") {
  const char* env_kills = std::getenv("SYNCTOOL_E2E_CRASH_KILLS");
  const int kills = env_kills && *env_kills ? std::stoi(env_kills) : 20;
  const char* env_seed = std::getenv("SYNCTOOL_E2E_SEED");
  const auto seed = static_cast<std::uint32_t>(env_seed && *env_seed ? std::stoul(env_seed) : 20261207);
  INFO("random seed " << seed << " (set SYNCTOOL_E2E_SEED to replay)");
  std::mt19937 random(seed);
  constexpr int kPeople = 300;  // 450 keys; half of HubSpot's contacts are the source's people too

  hs::HubspotFaults faults;
  faults.rate_429 = 0.04;
  faults.rate_500 = 0.04;
  faults.rate_timeout = 0.02;
  faults.timeout_ms = 1500;
  faults.rate_drop = 0.03;
  faults.rate_lost_response = 0.05;
  faults.rate_malformed = 0.02;
  faults.seed = seed;

  Project project;
  std::unique_ptr<hs::HubspotEmulator> emu;
  std::map<std::string, Person> expected;
  const Env env = hubspot_env();

  // A new HubSpot account and a new table: 300 people at A; at HubSpot 150 of them (lowercase,
  // another name: the source wins at the first link) and 150 of its own.
  auto reset = [&] {
    emu = std::make_unique<hs::HubspotEmulator>(generous_emulator_options());
    start_emulator(*emu);
    write_project(project, *emu);
    project.write_sync("ab", people_hubspot_sync(""));
    fs::remove_all(project.path(".synctool"));
    Db a(project.path("a.db"));
    a.exec("DROP TABLE IF EXISTS people");
    // No unique constraint on email: a record created twice would show as two rows.
    a.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, phone TEXT)");
    a.exec("BEGIN");
    expected.clear();
    auto seeded = nlohmann::json::array();
    for (int i = 0; i < kPeople; ++i) {
      const std::string email = "Person" + std::to_string(i) + "@Example.com";
      a.exec(fmt::format("INSERT INTO people (email, name, phone) VALUES ('{}', 'A{}', '{}')", email, i, i));
      expected[util::to_lower(email)] = Person{email, "A" + std::to_string(i), std::to_string(i)};
      const std::string at_hubspot = i % 2 == 0 ? util::to_lower(email) : "h-only" + std::to_string(i) + "@example.com";
      seeded.push_back({{"id", std::to_string(1000 + i)},
                        {"properties",
                         {{"email", at_hubspot},
                          {"firstname", "H" + std::to_string(i)},
                          {"phone", i % 2 == 0 ? std::to_string(i) : ""},
                          {"lastmodifieddate", "2026-01-01T00:00:00Z"}}}});
      if (i % 2 == 1) expected[at_hubspot] = Person{at_hubspot, "H" + std::to_string(i), ""};
    }
    a.exec("COMMIT");
    emu->load_seed({{"objects", {{"contacts", seeded}}}});
    emu->set_faults(faults);
  };
  auto check_sides = [&] {
    Db a(project.path("a.db"));
    const std::string wrong = differences("people", sqlite_people(a), expected) +
                              differences("HubSpot", hubspot_people(*emu), expected);
    INFO(wrong);
    REQUIRE(wrong.empty());
  };
  auto run_to_completion = [&] {
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto r = project.run({"run", "ab", "--json"}, env);
      INFO(r.describe());
      // 3: the connector gave up on a call; 1: records failed (retried by the next run).
      REQUIRE((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 3));
      if (r.exit_code == 0 && r.json().at("failed").empty()) return;
    }
    FAIL("eight runs in a row did not complete");
  };
  // An edit round: names edited at A, phones at HubSpot, and some names at both (A wins). The
  // test's own HubSpot writes go out with the faults off.
  auto edit = [&](int round) {
    Db a(project.path("a.db"));
    std::map<std::string, std::string> ids;
    hubspot_people(*emu, &ids);
    std::vector<std::string> keys;
    for (const auto& [key, p] : expected) keys.push_back(key);
    std::map<std::string, nlohmann::json> hubspot_edits;  // id -> properties
    for (int i = 0; i < 60; ++i) {
      const std::string& key = keys[random() % keys.size()];
      const std::string name = fmt::format("A-{}-{}", round, i), phone = fmt::format("H-{}-{}", round, i);
      a.exec("UPDATE people SET name = " + sql_quote(name) + " WHERE lower(email) = " + sql_quote(key));
      auto& properties = hubspot_edits[ids.at(key)];
      properties["phone"] = phone;
      if (i % 5 == 0) properties["firstname"] = "lost-" + name;
      expected[key].name = name;
      expected[key].phone = phone;
    }
    auto inputs = nlohmann::json::array();
    for (auto& [id, properties] : hubspot_edits) inputs.push_back({{"id", id}, {"properties", properties}});
    emu->set_faults({});
    hubspot_call(*emu, "POST", "/crm/v3/objects/contacts/batch/update", {{"inputs", inputs}});
    emu->set_faults(faults);
  };

  KillRounds rounds;
  rounds.reset = reset;
  rounds.edit = edit;
  rounds.run_to_completion = run_to_completion;
  rounds.check = check_sides;
  rounds.check_quiet = [&] {
    auto again = project.run({"run", "ab", "--json"}, env);
    INFO(again.describe());
    // With faults still on, a call may fail again; only a clean run must write nothing.
    if (again.exit_code == 0 && again.json().at("failed").empty()) CHECK(two_way_writes(again.json()) == 0);
  };
  rounds.spawn = [&] {
    return std::make_unique<Spawned>(project.root(), std::vector<std::string>{"run", "ab", "--json"}, env);
  };
  rounds.kills = kills;
  const auto summary = kill_rounds(rounds, random);
  const auto stats = emu->stats();
  std::cout << "two-way HubSpot crash: seed " << seed << ", " << summary.landed << " kills landed, " << summary.too_late
            << " runs finished first, " << summary.rounds << " rounds; a baseline took " << summary.baseline_ms
            << " ms, an incremental run " << summary.incremental_ms << " ms; last account: " << stats.at("faults_injected")
            << " faults in " << stats.at("requests") << " requests\n";
  CHECK(summary.landed >= kills);
}

}  // namespace synctool::e2e
