// hubspot-emulator: the HubSpot CRM v3 emulator as a process (end-to-end tests, demo, benchmark).
// Usage: see README.md next to this file, or run with --help.
#include <string>

#include "emulators/common/emulator_main.hpp"
#include "emulators/hubspot/hubspot_emulator.hpp"

namespace {

using synctool::emulators::HubspotEmulator;
using synctool::emulators::HubspotEmulatorOptions;
using synctool::emulators::common::ArgValue;
using synctool::emulators::common::to_int;
using synctool::emulators::common::UsageError;

constexpr const char* kUsage =
    "usage: hubspot-emulator [--port N] [--seed FILE.json] [--port-file FILE] [--rate-limit 100/10s]\n"
    "                        [--daily-limit N] [--search-rate 5] [--search-lag-ms N] [--token T]\n"
    "                        [--client-id X --client-secret Y --refresh-token Z] [--token-lifetime-s N]\n"
    "                        [--rotate-refresh-token] [--batch-errors partial|whole] [--shuffle-batch-results]\n"
    "                        [--faults JSON-or-@file] [--request-log FILE.jsonl]\n";

// "100/10s", "100/1000ms", "100/1m", or "100" (window unchanged).
void parse_rate_limit(const std::string& v, HubspotEmulatorOptions& o) {
  const auto slash = v.find('/');
  o.ten_second_limit = static_cast<int>(to_int("--rate-limit", v.substr(0, slash), 1));
  if (slash == std::string::npos) return;
  std::string w = v.substr(slash + 1);
  std::int64_t scale = 1000;
  if (w.size() > 2 && w.substr(w.size() - 2) == "ms") {
    scale = 1;
    w.resize(w.size() - 2);
  } else if (!w.empty() && w.back() == 's') {
    w.pop_back();
  } else if (!w.empty() && w.back() == 'm') {
    scale = 60000;
    w.pop_back();
  } else {
    std::string message = "--rate-limit: expected N/<window> like 100/10s, got '";
    message += v;
    message += "'";
    throw UsageError(message);
  }
  o.window_ms = to_int("--rate-limit", w.empty() ? std::string("1") : w, 1) * scale;
}

// The options of this emulator (--help, --seed, --port-file, --request-log, --faults:
// common::parse_args).
bool own_arg(const std::string& arg, const ArgValue& value, HubspotEmulatorOptions& o) {
  if (arg == "--port") {
    o.port = static_cast<int>(to_int(arg, value(), 0));
    if (o.port > 65535) throw UsageError("--port: out of range");
  } else if (arg == "--rate-limit") {
    parse_rate_limit(value(), o);
  } else if (arg == "--daily-limit") {
    o.daily_limit = to_int(arg, value(), 0);
  } else if (arg == "--search-rate") {
    o.search_per_second = static_cast<int>(to_int(arg, value(), 1));
  } else if (arg == "--search-lag-ms") {
    o.search_lag_ms = to_int(arg, value(), 0);
  } else if (arg == "--token") {
    o.private_app_token = value();
  } else if (arg == "--client-id") {
    o.client_id = value();
  } else if (arg == "--client-secret") {
    o.client_secret = value();
  } else if (arg == "--refresh-token") {
    o.refresh_token = value();
  } else if (arg == "--token-lifetime-s") {
    o.token_lifetime_s = to_int(arg, value(), 1);
  } else if (arg == "--rotate-refresh-token") {
    o.rotate_refresh_token = true;
  } else if (arg == "--batch-errors") {
    o.batch_errors = value();
    if (o.batch_errors != "partial" && o.batch_errors != "whole")
      throw UsageError("--batch-errors: expected partial or whole");
  } else if (arg == "--shuffle-batch-results") {
    o.shuffle_batch_results = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  return synctool::emulators::common::emulator_main<HubspotEmulator>(
      argc, argv, "hubspot-emulator", kUsage, synctool::emulators::hubspot_faults_from_json, own_arg);
}
