// Progress output for long-running commands: on a terminal one live line rewritten in place;
// otherwise plain lines at most every `interval` seconds, so logs stay readable.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

namespace charnn {

class Progress {
 public:
  enum class Mode { live, plain, quiet };
  Progress(std::ostream& out, Mode mode, double interval_seconds = 30.0);
  ~Progress();

  // The current status. live: redraws the line; plain: printed if `interval` has passed since
  // the last plain line (or force); quiet: nothing.
  void update(const std::string& status, bool force = false);
  // A permanent line (validation results, warnings); a live line is cleared first and redrawn
  // on the next update.
  void message(const std::string& line);
  // Ends the live line so later output starts on a fresh line.
  void finish();

  static bool is_terminal(const std::ostream& out);  // true for std::cerr/std::cout on a tty

 private:
  std::ostream& out_;
  Mode mode_;
  double interval_;
  std::chrono::steady_clock::time_point last_{};
  bool have_last_ = false;
  std::size_t live_width_ = 0;  // characters of the live line on screen
};

}  // namespace charnn
