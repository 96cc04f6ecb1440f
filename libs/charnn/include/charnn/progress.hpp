// Progress output for long-running commands: on a terminal one live line rewritten in place and
// cut to the terminal's width (so it never wraps and leaves stale lines behind); otherwise plain
// lines at most every `interval` seconds, so logs stay readable; or, for scripts and notebooks,
// one JSON object per line (json: records only, messages as {"event":"message","text":...}).
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

namespace charnn {

class Progress {
 public:
  enum class Mode { live, plain, quiet, json };
  // live_interval: the least time between two live redraws (0 = every update); a caller that
  // reports thousands of times a second stays cheap and the line stays readable.
  Progress(std::ostream& out, Mode mode, double interval_seconds = 30.0,
           double live_interval_seconds = 0.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The current status. live: redraws the line (unless within live_interval of the last
  // redraw and not force); plain: printed if `interval` has passed since the last plain line
  // (or force); quiet: nothing.
  void update(const std::string& status, bool force = false);
  // A permanent line (validation results, warnings); a live line is cleared first and redrawn
  // on the next update.
  void message(const std::string& line);
  // One JSON object, a whole line: written in json mode only (the other modes show status
  // lines and messages instead).
  void record(const std::string& json_object);
  bool json() const { return mode_ == Mode::json; }
  // Ends the live line so later output starts on a fresh line.
  void finish();
  // Erases the live line, leaving the cursor at its start (for a status that should not stay).
  void clear();

  static bool is_terminal(const std::ostream& out);  // true for std::cerr/std::cout on a tty
  // Columns of the terminal behind out: its window size, else $COLUMNS, else 80.
  static std::size_t terminal_width(const std::ostream& out);

 private:
  std::ostream& out_;
  Mode mode_;
  double interval_;
  double live_interval_;
  std::chrono::steady_clock::time_point last_{};
  bool have_last_ = false;
  std::size_t live_width_ = 0;  // columns of the live line on screen
};

}  // namespace charnn
