// The progress line of a run on a terminal: one stderr line rewritten in place (read, decided,
// written, rate, and an ETA once the number of records to decide is known). Nothing at all
// when stderr is not a terminal (cron, CI, a pipe), when TERM is "dumb", or when the caller
// turns it off (--quiet, --verbose, --json); no colour when NO_COLOR is set.
#pragma once

#include "engine/runner.hpp"

#include <cstdint>
#include <string>

namespace synctool::report {

// The line's text, without escapes: "sync: writing  decided 1,200/10,000  written 1,180  ...".
// `elapsed_ms` since the phase began (for the rate and the ETA).
std::string render_progress(const std::string& sync, const engine::RunProgress& progress, std::int64_t phase_ms);

class ProgressLine {
 public:
  ProgressLine(std::string sync, bool wanted);
  ~ProgressLine();  // clears the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool active() const { return active_; }
  // Redraws at most five times a second.
  void update(const engine::RunProgress& progress);
  // Removes the line (before anything else is printed).
  void clear();

 private:
  std::string sync_;
  bool active_ = false;
  bool colour_ = false;
  bool shown_ = false;
  std::string phase_;
  std::int64_t phase_start_ms_ = 0;
  std::int64_t last_draw_ms_ = 0;
};

}  // namespace synctool::report
