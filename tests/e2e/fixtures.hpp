// The project most end-to-end tests use: a CRM export exports/contacts.csv (connection "crm")
// kept in step with the table contacts of warehouse.db (connection "warehouse") by the sync
// "contacts", plus checks of what the destination holds.
#pragma once

#include "e2e/harness.hpp"

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace synctool::e2e {

inline constexpr const char* kSync = "contacts";
inline constexpr const char* kSourceCsv = "exports/contacts.csv";
inline constexpr const char* kWarehouse = "warehouse.db";

inline constexpr const char* kProjectToml = R"(state_dir = ".synctool"

[connections.crm]
type = "csv"
path = "exports"

[connections.warehouse]
type = "sqlite"
path = "warehouse.db"
)";

// The destination table: keyed by email, or (`unique_email` false) with no unique constraint
// at all, so that a duplicate the engine creates shows up as a second row.
std::string contacts_table_sql(bool unique_email = true);

// syncs/contacts.toml: CSV contacts -> the warehouse's contacts by email, every column mapped.
// `extra` is appended (e.g. a [deletes] table); `destination_keys` go into [destination].
std::string contacts_sync_toml(const std::string& mode = "upsert", const std::string& normalize = R"(["trim", "lowercase"])",
                               const std::string& extra = "", const std::string& destination_keys = "");

// Writes synctool.toml, syncs/contacts.toml, the source CSV and an empty destination table.
void make_csv_to_sqlite(const Project& project, const std::vector<Contact>& contacts,
                        const std::string& mode = "upsert", const std::string& extra = "",
                        bool unique_email = true);

// "" when `rows` (columns email, first_name, last_name, company, age) hold exactly `expected`,
// else a description of the first differences; `where` names them.
std::string rows_differences(const Rows& rows, const std::vector<Contact>& expected, const std::string& where);
// "" when table `contacts` of `db` holds exactly `expected` (by email, every column), else a
// description of the first differences.
std::string table_differences(const Db& db, const std::vector<Contact>& expected);
// The same for a CSV file with the columns email, first_name, last_name, company, age.
std::string csv_differences(const Project& project, const std::string& file, const std::vector<Contact>& expected);

// The reverse direction: table people of app.db (connection "app", read incrementally by its
// updated_at column) exported to out/people.csv (connection "files") by the sync "people".
inline constexpr const char* kPeopleSync = "people";
inline constexpr const char* kAppDb = "app.db";
inline constexpr const char* kPeopleCsv = "out/people.csv";

// A timestamp `seconds` after 2026-01-01T00:00:00Z, ISO 8601 (sorts like time).
std::string stamp(int seconds);
// Writes synctool.toml, syncs/people.toml, creates the folder out/ and the table people with
// `contacts`, contact i stamped stamp(i).
void make_sqlite_to_csv(const Project& project, const std::vector<Contact>& contacts);

// Runs `synctool run SYNC --json` (plus `flags`) and returns the result; the report is its json().
Result run_sync(const Project& project, std::vector<std::string> flags = {}, const std::string& sync = kSync);

// A run stopped by a connection problem: exit 3, the report's and stderr's error naming `names`,
// nothing written.
void check_connection_error(const Result& r, const std::string& names);

// SIGKILL at random moments of runs, each followed by runs until one completes and a check of
// both systems: the driver the crash tests of two-way syncs share. It times a baseline
// (`reset`, then `run_to_completion`) and an incremental run after `edit(0)`, then plays rounds
// (every third a fresh baseline, the others an edit round) killing a `spawn`ed run after a random
// share of the measured time, until `kills` kills landed (or 3 x kills rounds passed).
struct KillRounds {
  std::function<void()> reset;              // fresh systems and state: the next run is a baseline
  std::function<void(int round)> edit;      // changes on the systems (and in the expected model)
  std::function<void()> run_to_completion;  // runs until one completes
  std::function<void()> check;              // both systems equal the model
  std::function<void()> check_quiet;        // one more run writes nothing
  std::function<std::unique_ptr<Spawned>()> spawn;  // the run to kill
  int kills = 20;
};
struct KillSummary {
  int landed = 0, too_late = 0, rounds = 0;
  long baseline_ms = 0, incremental_ms = 0;
};
KillSummary kill_rounds(const KillRounds& rounds, std::mt19937& random);

}  // namespace synctool::e2e
