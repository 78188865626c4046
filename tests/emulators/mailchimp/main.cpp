// mailchimp-emulator: the Mailchimp Marketing API v3 emulator as a process (end-to-end tests,
// demo, benchmark). Usage: see README.md next to this file, or run with --help.
#include <string>

#include "emulators/common/emulator_main.hpp"
#include "emulators/mailchimp/mailchimp_emulator.hpp"

namespace {

using synctool::emulators::MailchimpEmulator;
using synctool::emulators::MailchimpEmulatorOptions;
using synctool::emulators::common::ArgValue;
using synctool::emulators::common::to_int;
using synctool::emulators::common::UsageError;

constexpr const char* kUsage =
    "usage: mailchimp-emulator [--port N] [--port-file FILE] [--seed FILE.json] [--api-key KEY]\n"
    "                          [--max-connections N] [--overload json|bare|403] [--since-exclusive]\n"
    "                          [--faults JSON-or-@file] [--request-log FILE.jsonl]\n";

// The options of this emulator (--help, --seed, --port-file, --request-log, --faults:
// common::parse_args).
bool own_arg(const std::string& arg, const ArgValue& value, MailchimpEmulatorOptions& o) {
  if (arg == "--port") {
    o.port = static_cast<int>(to_int(arg, value(), 0, 65535));
  } else if (arg == "--api-key") {
    o.api_key = value();
    if (o.api_key.empty()) throw UsageError("--api-key: must not be empty");
  } else if (arg == "--max-connections") {
    o.max_connections = static_cast<int>(to_int(arg, value(), 1, 100000));
  } else if (arg == "--overload") {
    o.overload_answer = value();
    if (o.overload_answer != "json" && o.overload_answer != "bare" && o.overload_answer != "403")
      throw UsageError("--overload: expected json, bare or 403");
  } else if (arg == "--since-exclusive") {
    o.since_inclusive = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  return synctool::emulators::common::emulator_main<MailchimpEmulator>(
      argc, argv, "mailchimp-emulator", kUsage, synctool::emulators::mailchimp_faults_from_json, own_arg);
}
