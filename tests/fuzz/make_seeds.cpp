// Writes the binary seeds of the fuzz targets into DIR/<target>/: a small training checkpoint
// (raw, and as a bare payload for the framed mode) and its vocabulary. They are made by this build
// rather than committed, so they always match the current formats. (The ELF seed is
// tests/fuzz/elf_seed.c, which scripts/fuzz.sh links.)
#include <charnn/checkpoint.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/text.hpp>
#include <charnn/train_config.hpp>
#include <charnn/vocab.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: charnn_fuzz_seeds DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  charnn::PluginSearch search;
  search.files = {CHARNN_PLUGIN_DIR "/charnn-cell-lstm.so", CHARNN_PLUGIN_DIR "/charnn-cell-elman.so"};
  search.use_env = false;
  search.use_default_dir = false;
  const auto plugins = charnn::PluginRegistry::discover(search);

  charnn::TextOptions topt;
  charnn::UnitCounter counter(topt.units);
  counter.add_text(charnn::clean_text("hello, world\n\"quoted\" caf\xC3\xA9\n", topt));
  charnn::CheckpointData d;
  d.vocab = charnn::Vocab::build(counter, topt);
  fs::create_directories(dir / "checkpoint");
  for (const auto& cells : {std::vector<std::string>{"lstm"}, {"elman", "lstm"}}) {
    charnn::ModelConfig mc;
    mc.cells = cells;
    mc.hidden = 3;
    mc.vocab_size = d.vocab.size();
    charnn::Model model(mc, plugins);
    model.init_params(1);
    charnn::store_model(model, d);
    d.optimizer.assign(2 * d.params.size(), 0.5f);
    d.state.assign(6, 0.25f);
    d.set("state.iteration", std::int64_t{7});
    const std::string name = cells.size() == 1 ? "lstm" : "mixed";
    write(dir / "checkpoint" / (name + "-raw"), std::string(1, '\0') + charnn::checkpoint_bytes(d));
    // Framed mode: a format-1 payload (between the 24-byte preamble and the 8-byte checksum).
    const std::string old = charnn::checkpoint_bytes(d, 1);
    write(dir / "checkpoint" / (name + "-payload"),
          std::string(1, '\1') + old.substr(24, old.size() - 32));
  }
  std::ostringstream vocab;
  d.vocab.save(vocab);
  write(dir / "vocab" / "small", vocab.str());
  charnn::TrainConfig config;
  config.corpus = {"corpus.txt"};
  std::string keys;
  for (const auto& [k, v] : charnn::config_to_keys(config)) keys += k + "=" + v + "\n";
  write(dir / "config" / "defaults", keys);
  return 0;
}
