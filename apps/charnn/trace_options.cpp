// Options shared by the commands that run a trained model over a text (see trace_options.hpp).
#include "trace_options.hpp"

#include <charnn/progress.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

namespace charnn::app {

void add_trace_options(po::options_description& options, TraceFlags& f) {
  options.add_options()("text", po::value(&f.texts)->value_name("FILE")->composing(),
                        "text to run the model over (repeatable: files are concatenated); "
                        "cleaned as the model's corpus was")(
      "unknown", po::value(&f.unknown)->default_value(f.unknown)->value_name("error|skip|map"),
      "units not in the model's vocabulary: error lists them, skip leaves them out of the "
      "text, map reads them as the vocabulary's unknown symbol")(
      "chunk", po::value(&f.chunk)->default_value(f.chunk)->value_name("N"),
      "units traced per step (memory, not results)");
}

std::function<void(std::int64_t, std::int64_t)> trace_progress(const std::string& command) {
  if (!Progress::is_terminal(std::cerr)) return {};
  auto line = std::make_shared<Progress>(std::cerr, Progress::Mode::live, 0.0, 0.2);
  const std::string what = "charnn " + command;
  return [line, what](std::int64_t done, std::int64_t total) {
    const auto percent = 100 * done / std::max<std::int64_t>(1, total);
    char buf[64];
    std::snprintf(buf, sizeof buf, ": %3d%% (%lld/%lld units)", static_cast<int>(percent),
                  static_cast<long long>(done), static_cast<long long>(total));
    line->update(what + buf, done >= total);
    if (done >= total) line->finish();
  };
}

}  // namespace charnn::app
