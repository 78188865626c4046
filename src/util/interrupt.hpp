// SIGINT and SIGTERM. The first one asks the run to stop at the next batch boundary: what the
// destination confirmed is committed, the run is recorded as interrupted, and synctool exits
// 130 (SIGINT) or 143 (SIGTERM). A second one ends the process at once with the same code;
// the state stays consistent because every commit is atomic.
#pragma once

namespace synctool::util {

// Installs the handlers (once; later calls do nothing).
void install_interrupt_handlers();

// The signal that asked to stop (SIGINT or SIGTERM), or 0.
int stop_signal();
inline bool stop_requested() { return stop_signal() != 0; }

// As if `signal` had arrived (tests); 0 clears a request.
void request_stop(int signal);

// The exit code for a stop by `signal`: 128 + the signal number (130, 143).
int exit_code_for_signal(int signal);

}  // namespace synctool::util
