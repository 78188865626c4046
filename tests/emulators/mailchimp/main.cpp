// mailchimp-emulator: the Mailchimp Marketing API v3 emulator as a process (end-to-end tests,
// demo, benchmark). Usage: see README.md next to this file, or run with --help.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <pthread.h>
#include <unistd.h>

#include "emulators/mailchimp/mailchimp_emulator.hpp"

namespace {

using synctool::emulators::MailchimpEmulator;
using synctool::emulators::MailchimpEmulatorOptions;

constexpr const char* kUsage =
    "usage: mailchimp-emulator [--port N] [--port-file FILE] [--seed FILE.json] [--api-key KEY]\n"
    "                          [--max-connections N] [--overload json|bare|403] [--since-exclusive]\n"
    "                          [--faults JSON-or-@file] [--request-log FILE.jsonl]\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min, std::int64_t max) {
  std::size_t pos = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size() || n < min || n > max) {
    std::string message = flag;
    message += ": expected an integer from ";
    message += std::to_string(min);
    message += " to ";
    message += std::to_string(max);
    message += ", got '";
    message += v;
    message += "'";
    throw UsageError(message);
  }
  return n;
}

struct Args {
  MailchimpEmulatorOptions options;
  std::optional<std::string> seed_file, port_file, request_log;
};

Args parse_args(int argc, char** argv) {
  Args a;
  auto& o = a.options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--port") {
      o.port = static_cast<int>(to_int(arg, value(), 0, 65535));
    } else if (arg == "--port-file") {
      a.port_file = value();
    } else if (arg == "--seed") {
      a.seed_file = value();
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
    } else if (arg == "--faults") {
      std::string v = value();
      if (!v.empty() && v[0] == '@') v = read_file(v.substr(1));
      try {
        o.faults = synctool::emulators::mailchimp_faults_from_json(nlohmann::json::parse(v));
      } catch (const std::exception& e) {
        throw UsageError(std::string("--faults: ") + e.what());
      }
    } else if (arg == "--request-log") {
      a.request_log = value();
    } else {
      throw UsageError("unknown argument '" + arg + "'");
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  nlohmann::json seed;
  try {
    args = parse_args(argc, argv);
    if (args.seed_file) {
      try {
        seed = nlohmann::json::parse(read_file(*args.seed_file));
      } catch (const nlohmann::json::exception& e) {
        throw UsageError("--seed: " + *args.seed_file + ": " + e.what());
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "mailchimp-emulator: " << e.what() << "\n" << kUsage;
    return 2;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  MailchimpEmulator emulator(args.options);
  try {
    if (!seed.is_null()) emulator.load_seed(seed);
  } catch (const std::exception& e) {
    std::cerr << "mailchimp-emulator: --seed: " << e.what() << "\n";
    return 2;
  }

  std::ofstream request_log;
  std::mutex request_log_mu;
  if (args.request_log) {
    request_log.open(*args.request_log, std::ios::app);
    if (!request_log) {
      std::cerr << "mailchimp-emulator: cannot write " << *args.request_log << "\n";
      return 2;
    }
    emulator.set_request_listener([&](const nlohmann::json& entry) {
      std::lock_guard lk(request_log_mu);
      request_log << entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      request_log.flush();
    });
  }

  try {
    emulator.start();
  } catch (const std::exception& e) {
    std::cerr << "mailchimp-emulator: " << e.what() << "\n";
    return 1;
  }
  if (args.port_file) {
    const std::string tmp = *args.port_file + ".tmp";
    {
      std::ofstream pf(tmp);
      pf << emulator.port() << "\n";
    }
    std::rename(tmp.c_str(), args.port_file->c_str());
  }
  std::cout << "mailchimp-emulator listening on " << emulator.base_url() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  // stop() closes open connections; should anything still hang, do not outlive the signal long.
  std::thread watchdog([] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    std::_Exit(0);
  });
  watchdog.detach();
  emulator.stop();
  emulator.set_request_listener(nullptr);
  return 0;
}
