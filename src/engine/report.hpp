// The run report: what one pass did, per side, and the exit code it maps to.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace synctool::engine {

struct SideCounts {
  std::uint64_t read = 0;
  std::uint64_t created = 0;
  std::uint64_t updated = 0;
  std::uint64_t deleted = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t skipped = 0;  // append mode: already at the destination, left as it is
  std::uint64_t rejected = 0;
  std::uint64_t failed = 0;
};

// A row that did not make it, with its reason.
struct RowProblem {
  std::string key;
  std::string source_id;
  std::string reason;
  // The row had no failed row in state before this run: a problem to alert on (exit 1). A
  // row that keeps failing run after run is listed, but is not new.
  bool is_new = true;
};

// revert: `synctool revert` undoing an earlier run's writes.
enum class RunKind { baseline, incremental, full, revert };
const char* to_string(RunKind kind);

// Exit codes (DESIGN section 6).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int rows_failed = 1;
inline constexpr int usage = 2;
inline constexpr int connection = 3;
inline constexpr int safeguard = 4;
inline constexpr int locked = 5;
inline constexpr int resync_needed = 6;
inline constexpr int local_failure = 7;  // state unreadable / corrupt / unwritable, disk full
inline constexpr int paused = 8;         // `run SYNC` of a paused sync: nothing done (--force runs it)
inline constexpr int interrupted_int = 130;   // SIGINT: stopped at a batch boundary
inline constexpr int interrupted_term = 143;  // SIGTERM: likewise

// The code of several runs together: the most severe one, in the order 130/143, 7, 3, 6, 2,
// 4, 5, 1, 8, 0 (DESIGN section 6). Paused (8) ranks just above 0: a pause is a decision a
// person made, so any problem of another sync in the same invocation shows before it.
int most_severe(int a, int b);
}  // namespace exit_code

struct RunReport;
// Writes the systems confirmed: created, updated and deleted on both sides.
std::uint64_t writes_confirmed(const RunReport& report);

struct RunReport {
  std::string sync;
  RunKind kind = RunKind::incremental;
  bool dry_run = false;
  std::string direction = "one-way";
  std::string mode = "upsert";
  std::string started_at;   // ISO 8601
  std::int64_t started_ms = 0;
  // The run's sequence number in the state's run history (`synctool runs`, `history`, `revert`);
  // 0 for a dry run.
  std::uint64_t run = 0;
  double duration_s = 0;
  SideCounts source;
  SideCounts destination;
  std::vector<RowProblem> rejected;  // bounded: the first kMaxListedProblems
  std::vector<RowProblem> failed;    // bounded likewise
  // Rejected and failed rows that had no failed row in state before this run (see RowProblem).
  std::uint64_t new_problems = 0;
  // Bidirectional: fields both sides changed to different values, decided by a rule; those
  // queued for `synctool conflicts` (strategy = "manual"); deletes not carried out because the
  // other side had edited the record (the edit wins), with a line each (bounded like the rows).
  std::uint64_t conflicts_decided = 0;
  std::uint64_t conflicts_queued = 0;
  std::uint64_t deletes_kept = 0;
  std::vector<std::string> notes;
  // Bidirectional baseline: records the match key did not link that look like one record
  // (engine/duplicates.hpp), reported and never merged.
  struct PossibleDuplicate {
    std::string source_key, destination_key, reason;
  };
  std::vector<PossibleDuplicate> possible_duplicates;
  std::string error;      // why the run stopped (connection error, safeguard), "" if it did not
  int exit_code = exit_code::ok;
  // HTTP requests per connection (connections that talk HTTP only), in the order first added;
  // a connection on both sides of a sync is one entry with both sides' requests.
  struct ConnectionRequests {
    std::string connection;
    std::uint64_t requests = 0;   // attempts sent, retries included
    std::uint64_t throttled = 0;  // 429 answers
    std::uint64_t retries = 0;
  };
  std::vector<ConnectionRequests> requests;
  void add_requests(const std::string& connection, std::uint64_t sent, std::uint64_t throttled, std::uint64_t retries);

  static constexpr std::size_t kMaxListedProblems = 100;
  nlohmann::json to_json() const;
};

}  // namespace synctool::engine
