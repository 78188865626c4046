#include "report/notify.hpp"

#include <fmt/format.h>

namespace synctool::report {

namespace {

// The first line of an error, at most 300 bytes (cut at a UTF-8 character boundary).
std::string error_line(const std::string& error) {
  std::string line = error.substr(0, error.find('\n'));
  if (line.size() <= 300) return line;
  std::size_t cut = 300;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "...";
}

}  // namespace

const char* to_string(Health health) {
  switch (health) {
    case Health::ok: return "ok";
    case Health::degraded: return "degraded";
    case Health::failing: return "failing";
    case Health::safeguard: return "safeguard";
  }
  return "?";
}

std::optional<Health> health_of(int exit_code) {
  switch (exit_code) {
    case engine::exit_code::ok: return Health::ok;
    case engine::exit_code::rows_failed: return Health::degraded;
    case engine::exit_code::safeguard: return Health::safeguard;
    case engine::exit_code::usage:
    case engine::exit_code::connection:
    case engine::exit_code::resync_needed:
    case engine::exit_code::local_failure: return Health::failing;
    default: return std::nullopt;  // locked, interrupted, paused: nothing was tried
  }
}

std::string health_event(std::optional<Health> before, Health now) {
  switch (now) {
    case Health::failing:
    case Health::safeguard:
      return before == now ? "" : to_string(now);
    case Health::ok:
    case Health::degraded:
      if (before == Health::failing || before == Health::safeguard) return "recovered";
      if (now == Health::degraded && (!before || before == Health::ok)) return "degraded";
      return "";
  }
  return "";
}

nlohmann::json notify_message(const engine::RunReport& run, std::optional<Health> before, Health now,
                              const std::string& event) {
  const auto& s = run.source;
  const auto& d = run.destination;
  const std::uint64_t rejected = s.rejected + d.rejected, failed = s.failed + d.failed;
  std::string text = fmt::format("synctool: sync '{}' is {} (was {}), exit {}", run.sync, to_string(now),
                                 before ? to_string(*before) : "unknown", run.exit_code);
  std::string error = error_line(run.error);
  if (!error.empty()) text += ": " + error;
  text += fmt::format(". Created {}, updated {}, deleted {}, rejected {}, failed {}.", d.created + s.created,
                      d.updated + s.updated, d.deleted + s.deleted, rejected, failed);
  nlohmann::json details = {{"event", event},
                            {"sync", run.sync},
                            {"state", to_string(now)},
                            {"previous_state", before ? nlohmann::json(to_string(*before)) : nlohmann::json()},
                            {"exit_code", run.exit_code},
                            {"started_at", run.started_at},
                            {"error", error.empty() ? nlohmann::json() : nlohmann::json(error)},
                            {"created", d.created + s.created},
                            {"updated", d.updated + s.updated},
                            {"deleted", d.deleted + s.deleted},
                            {"rejected", rejected},
                            {"failed", failed}};
  return {{"text", text}, {"synctool", details}};
}

}  // namespace synctool::report
