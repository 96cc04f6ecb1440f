// Model selection, shared by the commands that use a trained model (sample, eval, dump,
// inspect): --model, --best/--last, --threads and --plugin declared once, and one helper that
// opens the model, reads the text and reports unknown units the same way for each of them.
#pragma once

#include <charnn/checkpoint.hpp>
#include <charnn/inspect.hpp>
#include <charnn/unknown_units.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"

namespace charnn::app {

struct ModelFlags {
  std::string model;  // checkpoint file or run directory; empty: runs/latest
  int threads = 0;    // as charnn::set_threads: 0 = the CPUs other processes leave free
};

// --model, --best, --last, --threads and --plugin. threads_help: what 0 means to the command
// (sampling tunes the thread count; the others use the CPUs other processes leave free).
void add_model_options(po::options_description& options, ModelFlags& flags,
                       std::string_view threads_help = "threads for the model (0 = every CPU not kept busy by another process)");

// Sets the thread count, discovers the plugins and loads the checkpoint --model/--best/--last
// choose. Throws charnn::error when --best and --last are both given.
LoadedModel open_model(const ModelFlags& flags, const po::variables_map& vm);

// The text files read and cleaned as the model's corpus was and encoded under --unknown. When
// units were skipped or mapped, stderr says so: "charnn <command>: skipped 2 unit(s) ...".
// source receives the files' names joined with " + " (for messages and reports).
TracedText read_model_text(std::string_view command, const LoadedModel& loaded,
                           const std::vector<std::string>& files, UnknownUnits unknown,
                           std::string* source = nullptr);

// "charnn <command>: skipped 3 unit(s) not in the vocabulary: 'a' 'b'" (map: "mapped"; what
// replaces "unit(s)"; the first 20 distinct units are listed); nothing when count is 0.
void report_unknown_units(std::string_view command, UnknownUnits unknown, std::int64_t count,
                          const std::vector<std::string>& units, std::string_view what = "unit(s)");

}  // namespace charnn::app
