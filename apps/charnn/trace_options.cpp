// Options shared by the commands that run a trained model over a text (dump, inspect).
#include "command.hpp"

namespace charnn::app {

void add_trace_options(po::options_description& options, std::string& model,
                       std::vector<std::string>& texts, std::string& unknown, std::int64_t& chunk,
                       int& threads) {
  options.add_options()("model,m", po::value(&model)->value_name("FILE|RUN_DIR"),
                        "checkpoint file or run directory (default: the latest run, "
                        "runs/latest)")("last", "use the run's last checkpoint, not the best")(
      "text", po::value(&texts)->value_name("FILE")->composing(),
      "text to run the model over (repeatable: files are concatenated); cleaned as the "
      "model's corpus was")(
      "unknown", po::value(&unknown)->default_value(unknown)->value_name("error|skip|map"),
      "units not in the model's vocabulary: error lists them, skip leaves them out of the "
      "text, map reads them as the vocabulary's unknown symbol")(
      "chunk", po::value(&chunk)->default_value(chunk)->value_name("N"),
      "units traced per step (memory, not results)")(
      "threads", po::value(&threads)->default_value(threads)->value_name("N"),
      "threads for the model (0 = every core)");
}

}  // namespace charnn::app
