// Options of the commands that run a trained model over a text (dump, inspect): --text,
// --unknown, and how the trace runs (--chunk, --streams, --warmup, --trace-memory,
// with defaults from the library's TraceOptions), and their progress line.
#pragma once

#include <charnn/trace.hpp>
#include <charnn/unknown_units.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

struct TraceFlags {
  std::vector<std::string> texts;
  std::string unknown = to_string(UnknownUnits::error);
  std::int64_t chunk = TraceOptions{}.chunk;
  std::int64_t streams = TraceOptions{}.streams;
  std::int64_t warmup = TraceOptions{}.warmup;
  std::int64_t memory_mb = TraceOptions{}.memory_mb;
  float tolerance = TraceOptions{}.tolerance;
};

// --text, --unknown, the run options below and --chunk (dump, inspect).
void add_trace_options(po::options_description& options, TraceFlags& flags);
// --unknown alone.
void add_unknown_option(po::options_description& options, std::string& unknown);
// --streams, --warmup, --trace-memory, --seam-tolerance (also eval's).
void add_trace_run_options(po::options_description& options, TraceFlags& flags);
// The library's options from the flags; charnn::error (exit 2) for values out of range.
TraceOptions trace_options(const TraceFlags& flags);

// "charnn <command>: 41% (1200000/3000000 units)" as a live line on a terminal, at most every
// 200 ms; when stderr is not a terminal, plain lines every kPlainProgressSeconds (as training's
// log has) once a trace has run that long, so a short one adds nothing to a log.
inline constexpr double kPlainProgressSeconds = 30;
std::function<void(std::int64_t done, std::int64_t total)> trace_progress(
    const std::string& command);

}  // namespace charnn::app
