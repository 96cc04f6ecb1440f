// Live or periodic progress lines; see progress.hpp.
#include "charnn/progress.hpp"

#include <charnn/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace charnn {

namespace {

int fd_of(const std::ostream& out) {
  if (&out == &std::cerr || &out == &std::clog) return STDERR_FILENO;
  if (&out == &std::cout) return STDOUT_FILENO;
  return -1;
}

// Columns taken by UTF-8 text, counting one per code point (wide and combining characters are
// rare in status lines; being off by one there only shortens the cut).
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The longest prefix of s that fits in `width` columns, never splitting a UTF-8 sequence.
std::string fit(const std::string& s, std::size_t width) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (n == width) return s.substr(0, i);
    ++n;
  }
  return s;
}

}  // namespace

Progress::Progress(std::ostream& out, Mode mode, double interval_seconds,
                   double live_interval_seconds)
    : out_(out), mode_(mode), interval_(interval_seconds), live_interval_(live_interval_seconds) {}

Progress::~Progress() {
  finish();
}

bool Progress::is_terminal(const std::ostream& out) {
  const int fd = fd_of(out);
  return fd >= 0 && ::isatty(fd) == 1;
}

std::size_t Progress::terminal_width(const std::ostream& out) {
  const int fd = fd_of(out);
  winsize ws{};
  if (fd >= 0 && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0) return static_cast<std::size_t>(n);
  }
  return 80;
}

void Progress::update(const std::string& status, bool force) {
  if (mode_ == Mode::quiet || mode_ == Mode::json) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (mode_ == Mode::live) {
    if (!force && have_last_ && since < live_interval_) return;
    last_ = now;
    have_last_ = true;
    // One column short of the width: a line that fills it exactly wraps on some terminals.
    const std::size_t width = terminal_width(out_);
    const std::string shown = fit(status, width > 1 ? width - 1 : width);
    const std::size_t cols = columns(shown);
    // \r then the line, padded with spaces over whatever the previous line left.
    std::string line = "\r" + shown;
    if (cols < live_width_) line.append(live_width_ - cols, ' ');
    live_width_ = cols;
    out_ << line << std::flush;
    return;
  }
  if (!force && have_last_ && since < interval_) return;
  last_ = now;
  have_last_ = true;
  out_ << status << "\n" << std::flush;
}

void Progress::clear() {
  if (mode_ == Mode::live && live_width_ > 0) {
    out_ << "\r" << std::string(live_width_, ' ') << "\r" << std::flush;
    live_width_ = 0;
  }
}

void Progress::message(const std::string& line) {
  if (mode_ == Mode::quiet) return;
  if (mode_ == Mode::json) {
    out_ << R"({"event":"message","text":)" << json_string(line) << "}\n" << std::flush;
    return;
  }
  clear();
  out_ << line << "\n" << std::flush;
}

void Progress::record(const std::string& json_object) {
  if (mode_ == Mode::json) out_ << json_object << "\n" << std::flush;
}

void Progress::finish() {
  if (mode_ == Mode::live && live_width_ > 0) {
    out_ << "\n" << std::flush;
    live_width_ = 0;
  }
}

}  // namespace charnn
