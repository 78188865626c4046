// The process side the emulator executables share.
#include "emulators/common/emulator_main.hpp"

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <sstream>
#include <thread>

namespace synctool::emulators::common {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string message = "cannot read ";
    message += path;
    throw UsageError(message);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::int64_t parse_integer(const std::string& v, bool& ok) {
  std::size_t pos = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  ok = pos != 0 && pos == v.size();
  return n;
}

[[noreturn]] void bad_integer(const std::string& flag, const std::string& expected, const std::string& v) {
  std::string message = flag;
  message += ": expected an integer ";
  message += expected;
  message += ", got '";
  message += v;
  message += "'";
  throw UsageError(message);
}

}  // namespace

std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min) {
  bool ok = false;
  const std::int64_t n = parse_integer(v, ok);
  if (!ok || n < min) {
    std::string expected = ">= ";
    expected += std::to_string(min);
    bad_integer(flag, expected, v);
  }
  return n;
}

std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t min, std::int64_t max) {
  bool ok = false;
  const std::int64_t n = parse_integer(v, ok);
  if (!ok || n < min || n > max) {
    std::string expected = "from ";
    expected += std::to_string(min);
    expected += " to ";
    expected += std::to_string(max);
    bad_integer(flag, expected, v);
  }
  return n;
}

namespace {

void faults_arg(std::string v, const std::function<void(const nlohmann::json&)>& read) {
  if (!v.empty() && v[0] == '@') v = read_file(v.substr(1));
  try {
    read(nlohmann::json::parse(v));
  } catch (const std::exception& e) {
    throw UsageError(std::string("--faults: ") + e.what());
  }
}

}  // namespace

ProcessArgs parse_args(int argc, char** argv, const char* usage,
                       const std::function<void(const nlohmann::json&)>& read_faults,
                       const std::function<bool(const std::string& arg, const ArgValue& value)>& own) {
  ProcessArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const ArgValue value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (arg == "--seed") {
      a.seed_file = value();
    } else if (arg == "--port-file") {
      a.port_file = value();
    } else if (arg == "--request-log") {
      a.request_log = value();
    } else if (arg == "--faults") {
      faults_arg(value(), read_faults);
    } else if (!own(arg, value)) {
      std::string message = "unknown argument '";
      message += arg;
      message += "'";
      throw UsageError(message);
    }
  }
  return a;
}

nlohmann::json read_seed(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string message = "--seed: ";
    message += path;
    message += ": ";
    message += e.what();
    throw UsageError(message);
  }
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

void wait_for_stop_signal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  // stop() closes open connections; should anything still hang, do not outlive the signal long.
  std::thread watchdog([] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    std::_Exit(0);
  });
  watchdog.detach();
}

void write_port_file(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream pf(tmp);
    pf << port << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

int fail(const char* name, const std::string& message, int code, const char* usage) {
  std::cerr << name << ": " << message << "\n";
  if (usage != nullptr) std::cerr << usage;
  return code;
}

void print_listening(const char* name, const std::string& base_url) {
  std::cout << name << " listening on " << base_url << std::endl;
}

bool JsonlFile::open(const std::string& path) {
  out_.open(path, std::ios::app);
  return static_cast<bool>(out_);
}

void JsonlFile::write(const nlohmann::json& entry) {
  std::lock_guard lk(mu_);
  out_ << entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out_.flush();
}

}  // namespace synctool::emulators::common
