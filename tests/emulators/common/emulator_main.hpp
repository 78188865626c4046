// The process side the emulator executables share (hubspot-emulator, mailchimp-emulator):
// argument helpers, the options every one takes (--help, --seed, --port-file, --request-log,
// --faults), the port file, the JSONL request log and running until SIGTERM or SIGINT. Each
// executable adds its own options and its usage text.
#pragma once

#include <signal.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace synctool::emulators::common {

// A bad command line: the executable prints "<name>: <what>" and its usage, and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_file(const std::string& path);  // throws UsageError "cannot read PATH"
// An integer >= min ("FLAG: expected an integer >= MIN, got 'V'").
std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min);
// An integer in min..max ("FLAG: expected an integer from MIN to MAX, got 'V'").
std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min, std::int64_t max);

// The value of the option being read; throws UsageError "ARG needs a value" when there is none.
using ArgValue = std::function<std::string()>;

// The options every emulator executable takes besides its own.
struct ProcessArgs {
  std::optional<std::string> seed_file, port_file, request_log;
};

// Reads argv: --help / -h prints `usage` and exits 0; --seed FILE, --port-file FILE and
// --request-log FILE are kept; --faults JSON-or-@file (the JSON text, or the file named after
// '@') is given to `read_faults`, whose errors, like those of the JSON, become "--faults: ...";
// any other argument goes to `own(arg, value)`, which returns false when it does not know it
// ("unknown argument 'ARG'"). Throws UsageError.
ProcessArgs parse_args(int argc, char** argv, const char* usage,
                       const std::function<void(const nlohmann::json&)>& read_faults,
                       const std::function<bool(const std::string& arg, const ArgValue& value)>& own);
// The seed file as JSON; throws UsageError "--seed: FILE: <JSON error>".
nlohmann::json read_seed(const std::string& path);

// Blocks SIGTERM and SIGINT (taken by wait_for_stop_signal) and ignores SIGPIPE. Call before
// any thread starts.
sigset_t block_stop_signals();
// Waits for SIGTERM or SIGINT; then, should stopping hang, the process exits 0 within 5 s.
void wait_for_stop_signal(const sigset_t& signals);
// Writes "PORT\n" to PATH.tmp and renames it to PATH, so a reader never sees half of it.
void write_port_file(const std::string& path, int port);
// Prints "<name>: <message>" to stderr (and the usage when given); returns `code`.
int fail(const char* name, const std::string& message, int code, const char* usage = nullptr);
void print_listening(const char* name, const std::string& base_url);  // "<name> listening on URL"

// --request-log FILE.jsonl: one JSON line per entry, appended and flushed; thread-safe.
class JsonlFile {
 public:
  bool open(const std::string& path);  // false when the file cannot be written
  void write(const nlohmann::json& entry);

 private:
  std::mutex mu_;
  std::ofstream out_;
};

// The main() of an emulator executable: `faults_from_json` reads --faults into options.faults,
// `own_arg(arg, value, options)` the vendor's own options (see parse_args). Exit codes: 0 after
// SIGTERM / SIGINT, 2 for a bad command line, seed or request-log file, 1 when the server cannot
// start.
template <typename Emulator, typename Options, typename Faults>
int emulator_main(int argc, char** argv, const char* name, const char* usage,
                  Faults (*faults_from_json)(const nlohmann::json&),
                  bool (*own_arg)(const std::string& arg, const ArgValue& value, Options& options)) {
  Options options;
  ProcessArgs args;
  nlohmann::json seed;
  try {
    args = parse_args(
        argc, argv, usage, [&](const nlohmann::json& j) { options.faults = faults_from_json(j); },
        [&](const std::string& arg, const ArgValue& value) { return own_arg(arg, value, options); });
    if (args.seed_file) seed = read_seed(*args.seed_file);
  } catch (const UsageError& e) {
    return fail(name, e.what(), 2, usage);
  }

  const sigset_t signals = block_stop_signals();
  Emulator emulator(options);
  try {
    if (!seed.is_null()) emulator.load_seed(seed);
  } catch (const std::exception& e) {
    std::string message = "--seed: ";
    message += e.what();
    return fail(name, message, 2);
  }

  JsonlFile request_log;
  if (args.request_log) {
    if (!request_log.open(*args.request_log)) {
      std::string message = "cannot write ";
      message += *args.request_log;
      return fail(name, message, 2);
    }
    emulator.set_request_listener([&request_log](const nlohmann::json& entry) { request_log.write(entry); });
  }

  try {
    emulator.start();
  } catch (const std::exception& e) {
    return fail(name, e.what(), 1);
  }
  if (args.port_file) write_port_file(*args.port_file, emulator.port());
  print_listening(name, emulator.base_url());

  wait_for_stop_signal(signals);
  emulator.stop();
  emulator.set_request_listener(nullptr);
  return 0;
}

}  // namespace synctool::emulators::common
