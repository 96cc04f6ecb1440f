// Options of the commands that run a trained model over a text (dump, inspect): --text,
// --unknown and --chunk, with defaults from the library's DumpOptions (InspectOptions has the
// same chunk), and their progress line.
#pragma once

#include <charnn/dump.hpp>
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
  std::int64_t chunk = DumpOptions{}.chunk;
};

void add_trace_options(po::options_description& options, TraceFlags& flags);

// "charnn <command>: 41% (1200000/3000000 units)" as a live line on a terminal, at most every
// 200 ms; an empty function (no output) when stderr is not a terminal.
std::function<void(std::int64_t done, std::int64_t total)> trace_progress(
    const std::string& command);

}  // namespace charnn::app
