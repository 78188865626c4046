// A sync's health as alerts see it, the changes worth a message, and the message ([notify]).
//
// Health comes from the exit code alone, so that the previous run's code in the state's run
// history tells the previous health and no other state is kept:
//   0            ok
//   1            degraded: the run finished, but rows it had not seen fail before were
//                rejected or failed. Not "failing": the data flows, the rows are retried, and
//                the next run exits 0 while the same rows keep failing, so treating 1 as a
//                failure would flap failing -> ok -> failing on one bad row.
//   2 3 6 7      failing: the run stopped (spec problem found late, connection or API error,
//                state that needs --resync, local failure)
//   4            safeguard: a delete cap or empty-source guard stopped the run
//   others       no health: another run held the lock (5), the run was asked to stop (130,
//                143), the sync is paused; such a run neither changes the health nor counts
//                as the previous one.
#pragma once

#include "engine/report.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace synctool::report {

enum class Health { ok, degraded, failing, safeguard };
const char* to_string(Health health);

// nullopt for the codes that tell nothing about the sync (5, 130, 143, any other).
std::optional<Health> health_of(int exit_code);

// The event a change from `before` (nullopt: no earlier run with a health) to `now` is, or ""
// when nothing is worth a message:
//   "failing"    now failing, before anything else (a first run that fails included)
//   "safeguard"  now safeguard, before anything else
//   "recovered"  now ok or degraded, before failing or safeguard
//   "degraded"   now degraded, before ok or nothing (opt-in: on = ["degraded", ...])
std::string health_event(std::optional<Health> before, Health now);

// The webhook's JSON body: Slack's `text` (one line a person reads), and a `synctool` object
// with the same facts for machines. Holds no URL and nothing from the spec's secrets; the
// caller still redacts it (the error line quotes what a server answered).
nlohmann::json notify_message(const engine::RunReport& run, std::optional<Health> before, Health now,
                              const std::string& event);

}  // namespace synctool::report
