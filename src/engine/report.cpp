#include "engine/report.hpp"

#include <algorithm>

namespace synctool::engine {

namespace exit_code {

namespace {

int rank(int code) {
  switch (code) {
    case interrupted_int:
    case interrupted_term: return 10;
    case local_failure: return 9;
    case connection: return 8;
    case resync_needed: return 7;
    case usage: return 6;
    case safeguard: return 5;
    case locked: return 4;
    case rows_failed: return 3;
    case paused: return 1;
    case ok: return 0;
  }
  return 8;  // an unknown code counts as an error that stopped a run
}

}  // namespace

int most_severe(int a, int b) { return rank(b) > rank(a) ? b : a; }

}  // namespace exit_code

std::uint64_t writes_confirmed(const RunReport& r) {
  return r.source.created + r.source.updated + r.source.deleted + r.destination.created + r.destination.updated +
         r.destination.deleted;
}

const char* to_string(RunKind kind) {
  switch (kind) {
    case RunKind::baseline: return "baseline";
    case RunKind::incremental: return "incremental";
    case RunKind::full: return "full";
    case RunKind::revert: return "revert";
  }
  return "?";
}

namespace {

nlohmann::json counts_json(const SideCounts& c) {
  return {{"read", c.read},           {"created", c.created},   {"updated", c.updated},
          {"deleted", c.deleted},     {"unchanged", c.unchanged}, {"skipped", c.skipped},
          {"rejected", c.rejected},   {"failed", c.failed}};
}

std::uint64_t omitted(std::uint64_t total, std::size_t listed) { return total > listed ? total - listed : 0; }

nlohmann::json problems_json(const std::vector<RowProblem>& problems) {
  auto list = nlohmann::json::array();
  for (const auto& p : problems)
    list.push_back({{"key", p.key}, {"source_id", p.source_id}, {"reason", p.reason}, {"new", p.is_new}});
  return list;
}

}  // namespace

nlohmann::json RunReport::to_json() const {
  nlohmann::json j = {{"sync", sync},
                      {"run", run == 0 ? nlohmann::json() : nlohmann::json(run)},
                      {"kind", to_string(kind)},
                      {"dry_run", dry_run},
                      {"direction", direction},
                      {"mode", mode},
                      {"started_at", started_at},
                      {"duration_s", duration_s},
                      {"source", counts_json(source)},
                      {"destination", counts_json(destination)},
                      {"rejected", problems_json(rejected)},
                      // The lists hold the first kMaxListedProblems rows; *_omitted says how many
                      // more there were (`synctool state show` lists every one).
                      {"rejected_omitted", omitted(source.rejected + destination.rejected, rejected.size())},
                      {"failed", problems_json(failed)},
                      {"failed_omitted", omitted(source.failed + destination.failed, failed.size())},
                      {"new_problems", new_problems},
                      {"exit_code", exit_code}};
  if (direction == "bidirectional") {
    j["conflicts"] = {{"decided", conflicts_decided}, {"queued", conflicts_queued}, {"deletes_kept", deletes_kept}};
    j["notes"] = notes;
    auto duplicates = nlohmann::json::array();
    for (const auto& d : possible_duplicates)
      duplicates.push_back({{"source_key", d.source_key}, {"destination_key", d.destination_key}, {"reason", d.reason}});
    j["possible_duplicates"] = duplicates;
  }
  auto per_connection = nlohmann::json::object();
  for (const auto& r : requests)
    per_connection[r.connection] = {{"requests", r.requests}, {"throttled", r.throttled}, {"retries", r.retries}};
  j["requests"] = per_connection;
  if (!error.empty()) j["error"] = error;
  return j;
}

void RunReport::add_requests(const std::string& connection, std::uint64_t sent, std::uint64_t throttled,
                             std::uint64_t retries) {
  auto it = std::find_if(requests.begin(), requests.end(),
                         [&](const ConnectionRequests& r) { return r.connection == connection; });
  if (it == requests.end()) it = requests.insert(requests.end(), ConnectionRequests{connection, 0, 0, 0});
  it->requests += sent;
  it->throttled += throttled;
  it->retries += retries;
}

}  // namespace synctool::engine
