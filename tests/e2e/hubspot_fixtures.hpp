// End-to-end fixtures for HubSpot: the HubSpot emulator runs inside the test process while
// the real synctool binary, a separate process, talks HTTP to it. A project here holds the
// SQLite database app.db (table people, read incrementally by its updated_at column), the
// CSV folder out/ and the connection "hubspot" to the emulator.
#pragma once

#include "e2e/fixtures.hpp"
#include "emulators/hubspot/hubspot_emulator.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace synctool::e2e {

namespace hs = synctool::emulators;

inline constexpr const char* kToHubspot = "to_hubspot";      // app.db people -> HubSpot contacts
inline constexpr const char* kFromHubspot = "from_hubspot";  // HubSpot contacts -> out/people.csv
inline constexpr const char* kFromHubspotCsv = "out/people.csv";
inline constexpr const char* kEmulatorToken = "pat-na1-emulator-token";

// Limits high enough that nothing is paced or throttled unless a test asks for it; the
// contacts property `age` (a string) exists so that every column of a Contact has a home.
hs::HubspotEmulatorOptions generous_emulator_options();
// Starts `emu` and defines the contacts property `age`.
void start_emulator(hs::HubspotEmulator& emu);

// The [connections.hubspot] table. Empty strings / negative numbers leave a key out.
struct HubspotConnection {
  std::string base_url;
  std::string rate_limit = "1000/10s";
  int max_in_flight = 4;
  std::string timeout;
  int max_retries = -1;
  std::string retry_for;
  bool oauth = false;  // client_id / client_secret / refresh_token instead of token
};
std::string hubspot_connection_toml(const HubspotConnection& connection);
// The connection to `emu`, adjusted by `adjust`.
HubspotConnection connection_to(const hs::HubspotEmulator& emu,
                                const std::function<void(HubspotConnection&)>& adjust = {});

// The environment that carries the credentials: HUBSPOT_TOKEN, and for OAuth
// HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, HUBSPOT_REFRESH_TOKEN.
Env hubspot_env(const std::string& token = kEmulatorToken);
Env oauth_env(const hs::HubspotEmulatorOptions& options);

// synctool.toml with the connections app (sqlite app.db), files (csv folder out) and hubspot.
void write_hubspot_project(const Project& project, const HubspotConnection& connection);

// Table people in app.db (id, email, first_name, last_name, company, age, updated_at), contact
// i stamped stamp(i). Creates the table when missing; replaces rows with the same id.
void write_people(const Project& project, const std::vector<Contact>& contacts);

// syncs/to_hubspot.toml: people -> HubSpot contacts by email (upsert), every column mapped
// (first_name -> firstname, last_name -> lastname, company, age). `extra` is appended.
std::string people_to_hubspot_toml(const std::string& extra = "");
// syncs/from_hubspot.toml: HubSpot contacts -> out/people.csv by email; `source_extra` goes
// into [source] (e.g. lookback = "0s").
std::string hubspot_to_csv_toml(const std::string& source_extra = "");
// syncs/to_companies.toml: the SQLite table `firms` (connection "app", cursor updated_at) ->
// HubSpot companies, matched by domain (not unique in HubSpot: lookups go through search).
std::string firms_to_companies_toml();

// Seed records for the emulator: {"objects": {"contacts": [...]}}; record ids `first_id`,
// `first_id` + 1, ...; lastmodifieddate `modified` (ISO 8601).
nlohmann::json contacts_seed(const std::vector<Contact>& contacts, std::uint64_t first_id, const std::string& modified);

// HubSpot contacts as rows with the columns id, email, first_name, last_name, company, age
// (email lower-cased; a null property is "").
Rows hubspot_contact_rows(const hs::HubspotEmulator& emu);
// "" when HubSpot holds exactly `expected` (by email, every column), else the differences.
std::string hubspot_differences(const hs::HubspotEmulator& emu, const std::vector<Contact>& expected);

// A plain HTTP call to the emulator from the test (libcurl; not synctool's HTTP layer), with
// `Authorization: Bearer <token>` and a JSON body when `body` is not null.
struct HttpAnswer {
  long status = 0;
  std::string body;
  std::string error;  // curl's message when no answer arrived
  nlohmann::json json() const;
};
HttpAnswer emulator_call(const hs::HubspotEmulator& emu, const std::string& method, const std::string& path,
                         const nlohmann::json* body = nullptr, const std::string& token = kEmulatorToken);
// The same to any URL (the Mailchimp emulator takes its API key as a bearer token too).
HttpAnswer http_call(const std::string& url, const std::string& method, const nlohmann::json* body,
                     const std::string& token);

// Request-log entries with this method whose path ends with `suffix`.
std::vector<nlohmann::json> logged(const nlohmann::json& log, const std::string& method, const std::string& suffix);

// Runs synctool with the HubSpot credentials in the environment.
Result run_with(const Project& project, std::vector<std::string> args, const Env& env);

// The diff's totals equal the run's (read, created, updated, ... on both sides); Catch2 checks.
void check_prediction(const nlohmann::json& predicted, const nlohmann::json& done);
// One counter of a report side: count_of(report.at("destination"), "created").
std::int64_t count_of(const nlohmann::json& side, const char* key);

// "" when a finished run's report accounts for every record it read (destination created +
// updated + unchanged + failed + rejected = source read), else what does not add up.
std::string accounting_problem(const nlohmann::json& report);

// Every file under `folder`, with its bytes.
std::vector<std::pair<fs::path, std::string>> files_under(const fs::path& folder);
// Where `needle` occurs in the output of `r` or in any file under `folder`; "" when nowhere.
std::string leaks(const std::string& needle, const Result& r, const fs::path& folder);

}  // namespace synctool::e2e
