// A model built from a checkpoint (the plugins it names must be loaded, and make as many
// parameters as it holds), and the checkpoint a --model argument or a run directory names. The
// file format itself is checkpoint.cpp's.
#include "charnn/checkpoint.hpp"

#include <charnn/atomic_file.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace charnn {

namespace fs = std::filesystem;

std::unique_ptr<Model> model_from_checkpoint(const CheckpointData& data,
                                             const PluginRegistry& plugins) {
  for (std::size_t l = 0; l < data.plugins.size(); ++l) {
    const auto& use = data.plugins[l];
    if (!plugins.find(use.name)) {
      std::string have, searched;
      for (const auto& p : plugins.plugins()) have += (have.empty() ? "" : ", ") + p->name();
      for (const auto& d : plugins.searched_dirs())
        searched += (searched.empty() ? "" : ", ") + d.string();
      throw error(
          data.file.string() + ": layer " + std::to_string(l) + " needs the cell plugin '" +
              use.name + "' (version " + use.version + "), which is not loaded" +
              (have.empty() ? std::string(" (no plugins found)") : " (found: " + have + ")") +
              (searched.empty() ? std::string() : "; searched " + searched),
          "load it with --plugin FILE or put its directory in CHARNN_PLUGIN_PATH");
    }
  }
  // Counted before the model is built, so a damaged header cannot make it allocate gigabytes.
  const std::int64_t want = Model::param_count(data.model, plugins);
  if (want != static_cast<std::int64_t>(data.params.size())) {
    std::string versions;
    for (std::size_t l = 0; l < data.plugins.size(); ++l)
      versions += " " + data.plugins[l].name + " " + plugins.find(data.plugins[l].name)->version() +
                  " (saved with " + data.plugins[l].version + ")";
    throw error(data.file.string() + ": the checkpoint holds " +
                    std::to_string(data.params.size()) +
                    " parameters but the loaded cell plugins make a model of " +
                    std::to_string(want) + ";" + versions,
                "load the plugin versions the model was trained with (--plugin FILE)");
  }
  for (std::size_t i = 0; i < data.params.size(); ++i)
    if (!std::isfinite(data.params[i]))
      throw error(data.file.string() + ": parameter " + std::to_string(i) + " is " +
                      (std::isnan(data.params[i]) ? "NaN" : "infinite") +
                      "; a model with non-finite weights cannot predict",
                  "use an earlier checkpoint of the run (best.ckpt), or retrain with a lower --lr");
  auto model = std::make_unique<Model>(data.model, plugins);
  std::copy(data.params.begin(), data.params.end(), model->params().begin());
  return model;
}

LoadedModel load_model(const fs::path& checkpoint, const PluginRegistry& plugins) {
  CheckpointData data = read_checkpoint(checkpoint, CheckpointParts::model);
  LoadedModel out;
  out.file = checkpoint;
  out.model = model_from_checkpoint(data, plugins);
  out.vocab = std::move(data.vocab);
  return out;
}

fs::path resolve_checkpoint(const fs::path& model_or_run, CheckpointChoice which) {
  std::error_code ec;
  fs::path target = model_or_run;
  if (target.empty()) {
    const fs::path latest = fs::path("runs") / "latest";
    if (!fs::exists(latest, ec))
      throw error("no model given and no default run here (" +
                      (fs::current_path(ec) / latest).string() + " does not exist)",
                  "train one with 'charnn train corpus.txt', or pass --model FILE|RUN_DIR");
    target = latest;
  }
  if (!fs::exists(target, ec))
    throw error(target.string() + ": no such checkpoint file or run directory",
                "pass a .ckpt file or a run directory made by 'charnn train'");
  if (fs::is_directory(target, ec)) {
    const fs::path first = target / (which == CheckpointChoice::best ? "best.ckpt" : "last.ckpt");
    const fs::path second = target / (which == CheckpointChoice::best ? "last.ckpt" : "best.ckpt");
    if (fs::exists(first, ec)) return first;
    if (fs::exists(second, ec)) return second;
    throw error(target.string() + ": this directory holds no best.ckpt or last.ckpt",
                "pass a run directory made by 'charnn train' or a .ckpt file");
  }
  return target;
}

void point_symlink(const fs::path& link, const fs::path& target) {
  const fs::path tmp =
      link.parent_path() / (".tmp-" + link.filename().string() + "." + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(target, tmp, ec);
  if (ec) throw error("cannot create symlink " + tmp.string() + ": " + ec.message());
  // Durable like the checkpoints it points at: after a power cut "latest" names a whole run.
  if (const int e = rename_into_place(tmp, link, true)) {
    fs::remove(tmp, ec);
    throw error(
        "cannot point " + link.string() + " at " + target.string() + ": " + std::strerror(e),
        "remove " + link.string() + " if it is a real directory");
  }
}

}  // namespace charnn
