// Helpers of the inspection tests (test_inspect.cpp) and of the dump and inspect commands
// tests (test_cli_inspect.cpp): the built-in cells, scratch directories and files, an
// untrained checkpoint, and a way to run the charnn program.
#pragma once

#include <charnn/checkpoint.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace charnn::inspect_test {

namespace fs = std::filesystem;

inline const charnn::PluginRegistry& registry() {
  static const charnn::PluginRegistry reg = [] {
    charnn::PluginSearch search;
    search.use_default_dir = false;
    search.use_env = false;
    for (const char* name : {"charnn-cell-lstm.so", "charnn-cell-elman.so"})
      search.files.push_back(fs::path(CHARNN_PLUGIN_DIR) / name);
    return charnn::PluginRegistry::discover(search);
  }();
  return reg;
}

inline fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() /
                     ("charnn-test-inspect-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline void write_file(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs the charnn program; returns the exit code, stdout and stderr.
struct Run {
  int code = -1;
  std::string out, err;
};
inline Run run_charnn(const std::string& args, const fs::path& dir) {
  const std::string cmd =
      "cd '" + dir.string() + "' && '" CHARNN_EXE "' " + args + " > out.txt 2> err.txt";
  const int status = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out.txt");
  r.err = slurp(dir / "err.txt");
  fs::remove(dir / "out.txt");
  fs::remove(dir / "err.txt");
  return r;
}

// An untrained model checkpoint over `vocab_text` (fast: no training), for the command tests.
inline fs::path untrained_checkpoint(const fs::path& dir, const std::string& vocab_text,
                                     const std::string& cell = "lstm") {
  charnn::TextOptions topt;
  charnn::UnitCounter counter(topt.units);
  counter.add_text(charnn::clean_text(vocab_text, topt));
  charnn::CheckpointData data;
  data.vocab = charnn::Vocab::build(counter, topt);
  charnn::ModelConfig mc;
  mc.cells = {"lstm", "lstm"};
  mc.hidden = 8;
  mc.vocab_size = data.vocab.size();
  charnn::Model model(mc, registry());
  model.init_params(5);
  charnn::store_model(model, data);
  if (cell != "lstm") {
    data.model.cells = {cell, cell};
    for (auto& p : data.plugins) p.name = cell;
  }
  const fs::path file = dir / ("model-" + cell + ".ckpt");
  charnn::write_checkpoint(file, data);
  return file;
}

}  // namespace charnn::inspect_test
