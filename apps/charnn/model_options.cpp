// Model selection and the model's input text, shared by sample, eval, dump and inspect (see
// model_options.hpp).
#include "model_options.hpp"

#include <charnn/error.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <iostream>

namespace charnn::app {

void add_model_options(po::options_description& options, ModelFlags& flags,
                       std::string_view threads_help) {
  options.add_options()("model,m", po::value(&flags.model)->value_name("FILE|RUN_DIR"),
                        "checkpoint file or run directory (default: the latest run, runs/latest)")(
      "best", "use the run's best checkpoint (lowest validation loss; the default)")(
      "last", "use the run's last checkpoint")(
      "threads", po::value(&flags.threads)->default_value(flags.threads)->value_name("N"),
      std::string(threads_help).c_str());
  add_plugin_options(options);
}

LoadedModel open_model(const ModelFlags& flags, const po::variables_map& vm) {
  if (vm.count("best") && vm.count("last"))
    throw charnn::error("--best and --last exclude each other", "give one of them");
  set_threads(flags.threads);
  const PluginRegistry plugins = load_plugins(vm);
  const auto which = vm.count("last") ? CheckpointChoice::last : CheckpointChoice::best;
  return load_model(resolve_checkpoint(flags.model, which), plugins);
}

TracedText read_model_text(std::string_view command, const LoadedModel& loaded,
                           const std::vector<std::string>& files, UnknownUnits unknown,
                           std::string* source) {
  const std::vector<std::filesystem::path> paths(files.begin(), files.end());
  std::string names;
  for (const auto& f : files) names += (names.empty() ? "" : " + ") + f;
  TracedText text =
      prepare_text(read_text(paths, loaded.vocab.text_options()), loaded.vocab, unknown, names);
  report_unknown_units(command, unknown, text.unknown_count, text.unknown);
  if (source) *source = std::move(names);
  return text;
}

void report_unknown_units(std::string_view command, UnknownUnits unknown, std::int64_t count,
                          const std::vector<std::string>& units, std::string_view what) {
  if (count == 0) return;
  std::cerr << "charnn " << command << ": "
            << (unknown == UnknownUnits::skip ? "skipped " : "mapped ") << count << " " << what
            << " not in the vocabulary:";
  const std::size_t shown = std::min<std::size_t>(units.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) std::cerr << " '" << units[i] << "'";
  if (shown < units.size()) std::cerr << " and " << units.size() - shown << " more";
  std::cerr << "\n";
}

}  // namespace charnn::app
