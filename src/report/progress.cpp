#include "report/progress.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace synctool::report {

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// 1234567 -> "1,234,567"
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration(std::int64_t seconds) {
  if (seconds >= 3600) return fmt::format("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
  return fmt::format("{}:{:02}", seconds / 60, seconds % 60);
}

}  // namespace

std::string render_progress(const std::string& sync, const engine::RunProgress& p, std::int64_t phase_ms) {
  const double seconds = static_cast<double>(std::max<std::int64_t>(phase_ms, 1)) / 1000.0;
  const bool writing = std::strcmp(p.phase, "writing") == 0;
  std::string line = fmt::format("{}: {}  read {}", sync, p.phase, grouped(p.read));
  if (writing) {
    line += "  decided " + grouped(p.decided);
    if (p.total > 0) line += "/" + grouped(p.total);
    line += "  written " + grouped(p.written);
  }
  const std::uint64_t done = writing ? p.decided : p.read;
  const double rate = static_cast<double>(done) / seconds;
  if (phase_ms >= 1000) line += fmt::format("  {}/s", grouped(static_cast<std::uint64_t>(rate)));
  if (writing && p.total > p.decided && rate > 0 && phase_ms >= 1000)
    line += "  ETA " + duration(static_cast<std::int64_t>(static_cast<double>(p.total - p.decided) / rate + 0.5));
  return line;
}

ProgressLine::ProgressLine(std::string sync, bool wanted) : sync_(std::move(sync)) {
  const char* term = std::getenv("TERM");
  active_ = wanted && ::isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
  const char* no_colour = std::getenv("NO_COLOR");
  colour_ = active_ && !(no_colour && *no_colour);  // https://no-color.org: set and not empty
}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const engine::RunProgress& progress) {
  if (!active_) return;
  const std::int64_t now = steady_ms();
  if (phase_ != progress.phase) {
    phase_ = progress.phase;
    phase_start_ms_ = now;
  } else if (now - last_draw_ms_ < 200) {
    return;
  }
  last_draw_ms_ = now;
  std::string text = render_progress(sync_, progress, now - phase_start_ms_);
  // \r and "erase to the end of the line" rewrite the line in place; dim is the only colour.
  std::string out = "\r" + std::string(colour_ ? "\x1b[2m" : "") + text + (colour_ ? "\x1b[0m" : "") + "\x1b[K";
  (void)!::write(STDERR_FILENO, out.data(), out.size());
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  static constexpr char kErase[] = "\r\x1b[K";
  (void)!::write(STDERR_FILENO, kErase, sizeof kErase - 1);
  shown_ = false;
}

}  // namespace synctool::report
