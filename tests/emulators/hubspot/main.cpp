// hubspot-emulator: the HubSpot CRM v3 emulator as a process (end-to-end tests, demo, benchmark).
// Usage: see README.md next to this file, or run with --help.
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

#include "emulators/hubspot/hubspot_emulator.hpp"

namespace {

using synctool::emulators::HubspotEmulator;
using synctool::emulators::HubspotEmulatorOptions;

constexpr const char* kUsage =
    "usage: hubspot-emulator [--port N] [--seed FILE.json] [--port-file FILE] [--rate-limit 100/10s]\n"
    "                        [--daily-limit N] [--search-rate 5] [--search-lag-ms N] [--token T]\n"
    "                        [--client-id X --client-secret Y --refresh-token Z] [--token-lifetime-s N]\n"
    "                        [--rotate-refresh-token] [--batch-errors partial|whole] [--shuffle-batch-results]\n"
    "                        [--faults JSON-or-@file] [--request-log FILE.jsonl]\n";

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

std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min) {
  std::size_t pos = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size() || n < min) throw UsageError(flag + ": expected an integer >= " + std::to_string(min) + ", got '" + v + "'");
  return n;
}

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
    throw UsageError("--rate-limit: expected N/<window> like 100/10s, got '" + v + "'");
  }
  if (w.empty()) w = "1";
  o.window_ms = to_int("--rate-limit", w, 1) * scale;
}

struct Args {
  HubspotEmulatorOptions options;
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
      o.port = static_cast<int>(to_int(arg, value(), 0));
      if (o.port > 65535) throw UsageError("--port: out of range");
    } else if (arg == "--seed") {
      a.seed_file = value();
    } else if (arg == "--port-file") {
      a.port_file = value();
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
    } else if (arg == "--faults") {
      std::string v = value();
      if (!v.empty() && v[0] == '@') v = read_file(v.substr(1));
      try {
        o.faults = synctool::emulators::hubspot_faults_from_json(nlohmann::json::parse(v));
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
    std::cerr << "hubspot-emulator: " << e.what() << "\n" << kUsage;
    return 2;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  HubspotEmulator emulator(args.options);
  try {
    if (!seed.is_null()) emulator.load_seed(seed);
  } catch (const std::exception& e) {
    std::cerr << "hubspot-emulator: --seed: " << e.what() << "\n";
    return 2;
  }

  std::ofstream request_log;
  std::mutex request_log_mu;
  if (args.request_log) {
    request_log.open(*args.request_log, std::ios::app);
    if (!request_log) {
      std::cerr << "hubspot-emulator: cannot write " << *args.request_log << "\n";
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
    std::cerr << "hubspot-emulator: " << e.what() << "\n";
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
  std::cout << "hubspot-emulator listening on " << emulator.base_url() << std::endl;

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
