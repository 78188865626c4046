// salesforce-emulator: the Salesforce REST emulator as a process (end-to-end tests, demo).
// Usage: see README.md next to this file, or run with --help.
#include <string>

#include "emulators/common/emulator_main.hpp"
#include "emulators/salesforce/salesforce_emulator.hpp"

namespace {

using synctool::emulators::SalesforceEmulator;
using synctool::emulators::SalesforceEmulatorOptions;
using synctool::emulators::common::ArgValue;
using synctool::emulators::common::to_int;
using synctool::emulators::common::UsageError;

constexpr const char* kUsage =
    "usage: salesforce-emulator [--port N] [--seed FILE.json] [--port-file FILE] [--request-log FILE.jsonl]\n"
    "                           [--faults JSON-or-@file] [--daily-limit N] [--session-lifetime-s N]\n"
    "                           [--long-request-limit N] [--long-request-ms N] [--no-duplicate-rule]\n"
    "                           [--client-id X] [--client-secret Y] [--refresh-token Z] [--rotate-refresh-token]\n"
    "                           [--username U] [--jwt-public-key FILE.pem] [--instance-url URL]\n"
    "                           [--options JSON-or-@file]\n";

bool own_arg(const std::string& arg, const ArgValue& value, SalesforceEmulatorOptions& o) {
  if (arg == "--port") {
    o.port = static_cast<int>(to_int(arg, value(), 0, 65535));
  } else if (arg == "--daily-limit") {
    o.daily_limit = to_int(arg, value(), 0);
  } else if (arg == "--session-lifetime-s") {
    o.session_lifetime_s = to_int(arg, value(), 1);
  } else if (arg == "--long-request-limit") {
    o.long_request_limit = static_cast<int>(to_int(arg, value(), 1, 1000000));
  } else if (arg == "--long-request-ms") {
    o.long_request_ms = to_int(arg, value(), 1);
  } else if (arg == "--no-duplicate-rule") {
    o.duplicate_rule = false;
  } else if (arg == "--client-id") {
    o.client_id = value();
  } else if (arg == "--client-secret") {
    o.client_secret = value();
  } else if (arg == "--refresh-token") {
    o.refresh_token = value();
  } else if (arg == "--rotate-refresh-token") {
    o.rotate_refresh_token = true;
  } else if (arg == "--username") {
    o.username = value();
  } else if (arg == "--jwt-public-key") {
    o.jwt_public_key_pem = synctool::emulators::common::read_file(value());
  } else if (arg == "--instance-url") {
    o.instance_url = value();
  } else if (arg == "--options") {
    std::string v = value();
    if (!v.empty() && v[0] == '@') v = synctool::emulators::common::read_file(v.substr(1));
    try {
      synctool::emulators::apply_salesforce_options(nlohmann::json::parse(v), o);
    } catch (const std::exception& e) {
      throw UsageError(std::string("--options: ") + e.what());
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  return synctool::emulators::common::emulator_main<SalesforceEmulator>(
      argc, argv, "salesforce-emulator", kUsage, synctool::emulators::salesforce_faults_from_json, own_arg);
}
