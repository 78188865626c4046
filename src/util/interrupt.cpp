#include "util/interrupt.hpp"

#include <atomic>
#include <csignal>

#include <unistd.h>

namespace synctool::util {

namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void on_stop_signal(int signal) {
  int expected = 0;
  if (!g_stop_signal.compare_exchange_strong(expected, signal)) _exit(128 + signal);  // asked twice: now
}

}  // namespace

void install_interrupt_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // slow calls go on; the run looks at the flag between batches
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_stop_signal.load(); }

void request_stop(int signal) { g_stop_signal.store(signal); }

int exit_code_for_signal(int signal) { return 128 + signal; }

}  // namespace synctool::util
