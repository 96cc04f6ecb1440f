// Live or periodic progress lines; see progress.hpp.
#include "charnn/progress.hpp"

#include <unistd.h>

#include <iostream>

namespace charnn {

Progress::Progress(std::ostream& out, Mode mode, double interval_seconds)
    : out_(out), mode_(mode), interval_(interval_seconds) {}

Progress::~Progress() {
  finish();
}

bool Progress::is_terminal(const std::ostream& out) {
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  return false;
}

void Progress::update(const std::string& status, bool force) {
  if (mode_ == Mode::quiet) return;
  if (mode_ == Mode::live) {
    // \r then the line, padded with spaces over whatever the previous line left.
    std::string line = "\r" + status;
    if (status.size() < live_width_) line.append(live_width_ - status.size(), ' ');
    live_width_ = status.size();
    out_ << line << std::flush;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!force && have_last_ && std::chrono::duration<double>(now - last_).count() < interval_)
    return;
  last_ = now;
  have_last_ = true;
  out_ << status << "\n" << std::flush;
}

void Progress::message(const std::string& line) {
  if (mode_ == Mode::quiet) return;
  if (mode_ == Mode::live && live_width_ > 0) {
    out_ << "\r" << std::string(live_width_, ' ') << "\r";
    live_width_ = 0;
  }
  out_ << line << "\n" << std::flush;
}

void Progress::finish() {
  if (mode_ == Mode::live && live_width_ > 0) {
    out_ << "\n" << std::flush;
    live_width_ = 0;
  }
}

}  // namespace charnn
