// Options shared by the commands that run a trained model over a text (see trace_options.hpp).
#include "trace_options.hpp"

#include <charnn/error.hpp>
#include <charnn/progress.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>

namespace charnn::app {

void add_unknown_option(po::options_description& options, std::string& unknown) {
  options.add_options()(
      "unknown", po::value(&unknown)->default_value(unknown)->value_name("error|skip|map"),
      "units not in the model's vocabulary: error lists them, skip leaves them out of the "
      "text, map reads them as the vocabulary's unknown symbol");
}

void add_trace_run_options(po::options_description& options, TraceFlags& f) {
  options.add_options()(
      "streams", po::value(&f.streams)->default_value(f.streams)->value_name("N"),
      "parts of the text traced side by side (faster than one stream), with the values of one "
      "stream over the whole text. eval and inspect run one pass over N regions, each but the "
      "first from a warm-up, and run each region's start again from where the region before "
      "it ended, as far as the model takes to forget; dump, which writes in order, and texts "
      "shorter than N x 8,192 units take two passes: the states first, then the trace. 1 = one "
      "stream")(
      "warmup", po::value(&f.warmup)->default_value(f.warmup)->value_name("UNITS"),
      "units run before each region or first-pass stream to guess its starting state (speed, "
      "not results: a wrong guess is run again)")(
      "trace-memory", po::value(&f.memory_mb)->default_value(f.memory_mb)->value_name("MB"),
      "two passes: memory for the traces of the segments that run side by side; less means "
      "shorter segments, so more warm-up work")(
      "seam-tolerance", po::value(&f.tolerance)->default_value(f.tolerance)->value_name("X"),
      "largest state difference (relative to max(1, |value|)) accepted where a segment starts");
}

void add_trace_options(po::options_description& options, TraceFlags& f) {
  options.add_options()("text", po::value(&f.texts)->value_name("FILE")->composing(),
                        "text to run the model over (repeatable: files are concatenated); "
                        "cleaned as the model's corpus was");
  add_unknown_option(options, f.unknown);
  add_trace_run_options(options, f);
  options.add_options()("chunk", po::value(&f.chunk)->default_value(f.chunk)->value_name("N"),
                        "units handed to the writers at a time (memory, not results)");
}

TraceOptions trace_options(const TraceFlags& f) {
  auto at_least = [](std::int64_t v, std::int64_t lo, const char* flag) {
    if (v < lo)
      throw error(std::string(flag) + " must be at least " + std::to_string(lo) + " (got " +
                      std::to_string(v) + ")",
                  {}, 2);
  };
  at_least(f.chunk, 1, "--chunk");
  at_least(f.streams, 1, "--streams");
  at_least(f.warmup, 0, "--warmup");
  at_least(f.memory_mb, 1, "--trace-memory");
  if (!(f.tolerance >= 0.0f) || !std::isfinite(f.tolerance))
    throw error("--seam-tolerance must be a number >= 0 (got " + std::to_string(f.tolerance) + ")",
                {}, 2);
  TraceOptions o;
  o.chunk = f.chunk;
  o.streams = f.streams;
  o.warmup = f.warmup;
  o.memory_mb = f.memory_mb;
  o.tolerance = f.tolerance;
  return o;
}

std::function<void(std::int64_t, std::int64_t)> trace_progress(const std::string& command) {
  const bool live = Progress::is_terminal(std::cerr);
  auto line = std::make_shared<Progress>(std::cerr, live ? Progress::Mode::live : Progress::Mode::plain,
                                         kPlainProgressSeconds, 0.2);
  const std::string what = "charnn " + command;
  // In a log: nothing for a trace shorter than the interval (the command's own lines say enough),
  // then a line every interval, and the last one.
  const auto start = std::chrono::steady_clock::now();
  auto shown = std::make_shared<bool>(live);
  return [line, what, start, shown](std::int64_t done, std::int64_t total) {
    if (!*shown) {
      const std::chrono::duration<double> since = std::chrono::steady_clock::now() - start;
      if (since.count() < kPlainProgressSeconds) return;
      *shown = true;
    }
    const auto percent = 100 * done / std::max<std::int64_t>(1, total);
    char buf[64];
    std::snprintf(buf, sizeof buf, ": %3d%% (%lld/%lld units)", static_cast<int>(percent),
                  static_cast<long long>(done), static_cast<long long>(total));
    line->update(what + buf, done >= total);
    if (done >= total) line->finish();
  };
}

}  // namespace charnn::app
