// Two synctool processes against one HubSpot account at once share its rate budget through the
// state folder (<state_dir>/.rate): together they stay under the account's limit.
#include "e2e/hubspot_fixtures.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace synctool::e2e;
using json = nlohmann::json;

namespace {

constexpr const char* kSecondSync = "from_hubspot_copy";
constexpr const char* kSecondCsv = "out/copies.csv";
// 70 pages of 100 contacts for each sync: 140 and more requests together, so that two
// processes each keeping to 100/10 s alone would send more than 100 in the first 10 s.
constexpr std::size_t kContacts = 7000;

hs::HubspotEmulatorOptions account_at_100_per_10s() {
  auto options = generous_emulator_options();
  options.ten_second_limit = 100;
  options.window_ms = 10'000;
  return options;
}

// Two syncs reading HubSpot's contacts into two CSV files, both paced at the account's limit.
void write_two_readers(const Project& project, const hs::HubspotEmulator& emu, bool share) {
  write_hubspot_project(project, connection_to(emu, [](HubspotConnection& c) { c.rate_limit = "100/10s"; }));
  if (!share) {
    // [connections.hubspot] is the file's last table.
    project.write_file("synctool.toml", project.read_file("synctool.toml") + "share_rate_limit = false\n");
  }
  project.write_sync(kFromHubspot, hubspot_to_csv_toml());
  std::string copy = hubspot_to_csv_toml();
  const std::string people = "object     = \"people\"";
  copy.replace(copy.find(people), people.size(), "object     = \"copies\"");
  project.write_sync(kSecondSync, copy);
}

struct Outcome {
  Result first, second;
  json stats;
  std::size_t most_in_a_window = 0;
  double seconds = 0;
};

// Both syncs started at once; what they did and what the emulator counted.
Outcome run_both(const Project& project, hs::HubspotEmulator& emu) {
  const auto env = hubspot_env();
  emu.reset_stats();
  const auto started = std::chrono::steady_clock::now();
  Spawned first(project.root(), {"run", kFromHubspot, "--json"}, env);
  Spawned second(project.root(), {"run", kSecondSync, "--json"}, env);
  Outcome out;
  out.first = first.wait();
  out.second = second.wait();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.stats = emu.stats();
  std::vector<std::int64_t> at;
  for (const auto& entry : emu.request_log())
    if (entry.value("path", "").starts_with("/crm/") && !entry.value("path", "").ends_with("/search"))
      at.push_back(entry.value("at_ms", std::int64_t{0}));
  std::sort(at.begin(), at.end());
  for (std::size_t i = 0, j = 0; j < at.size(); ++j) {
    while (at[j] - at[i] >= 10'000) ++i;
    out.most_in_a_window = std::max(out.most_in_a_window, j - i + 1);
  }
  return out;
}

}  // namespace

TEST_CASE("two syncs against one hubspot account at once share its rate budget and are never throttled",
          "[e2e][hubspot][ratelimit][shared_rate]") {
  hs::HubspotEmulator emu(account_at_100_per_10s());
  start_emulator(emu);
  const auto contacts = make_contacts(kContacts);
  emu.load_seed(contacts_seed(contacts, 1, "2025-01-01T00:00:00.000Z"));
  Project project;
  write_two_readers(project, emu, true);

  auto both = run_both(project, emu);
  INFO(both.first.describe());
  INFO(both.second.describe());
  INFO("emulator: " << both.stats.dump() << "; most /crm/ requests in 10 s: " << both.most_in_a_window << "; "
                    << both.seconds << " s");
  REQUIRE(both.first.exit_code == 0);
  REQUIRE(both.second.exit_code == 0);
  // Together they needed more than one window: the limit was really in play.
  CHECK(both.stats.at("requests").get<int>() > 100);
  CHECK(both.stats.at("throttled_by_limit").get<int>() == 0);
  CHECK(both.stats.at("max_in_any_window").get<int>() <= 100);
  CHECK(both.seconds >= 10.0);  // someone waited for the window
  CHECK(both.seconds < 40.0);   // ...and not much more than that
  CHECK(csv_differences(project, kFromHubspotCsv, contacts) == "");
  CHECK(csv_differences(project, kSecondCsv, contacts) == "");

  // The budget lives in the state folder, private, named without the token.
  const fs::path rate = project.path(".synctool/.rate");
  REQUIRE(fs::is_directory(rate));
  CHECK((fs::status(rate).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(leaks(kEmulatorToken, both.first, rate) == "");
  std::size_t budgets = 0;
  for (const auto& entry : fs::directory_iterator(rate))
    if (entry.path().filename() != "key") ++budgets;
  CHECK(budgets >= 1);  // the main budget (search, if used, has its own)
  CHECK(both.first.err.find("warning") == std::string::npos);
  CHECK(both.second.err.find("warning") == std::string::npos);
}

// The control, hidden from ordinary runs (it shows the throttling the shared budget prevents and
// takes a window longer): `e2e_tests "[shared_rate_control]"`.
TEST_CASE("with share_rate_limit = false the same two syncs are throttled", "[.][e2e][hubspot][shared_rate_control]") {
  hs::HubspotEmulator emu(account_at_100_per_10s());
  start_emulator(emu);
  const auto contacts = make_contacts(kContacts);
  emu.load_seed(contacts_seed(contacts, 1, "2025-01-01T00:00:00.000Z"));
  Project project;
  write_two_readers(project, emu, false);

  auto both = run_both(project, emu);
  INFO(both.first.describe());
  INFO(both.second.describe());
  INFO("emulator: " << both.stats.dump() << "; most /crm/ requests in 10 s: " << both.most_in_a_window << "; "
                    << both.seconds << " s");
  // Each keeps to 100/10 s alone; together they pass it, and HubSpot answers 429s (retried).
  REQUIRE(both.first.exit_code == 0);
  REQUIRE(both.second.exit_code == 0);
  CHECK(both.stats.at("throttled_by_limit").get<int>() > 0);
  CHECK_FALSE(fs::exists(project.path(".synctool/.rate")));
  CHECK(csv_differences(project, kFromHubspotCsv, contacts) == "");
  CHECK(csv_differences(project, kSecondCsv, contacts) == "");
}
