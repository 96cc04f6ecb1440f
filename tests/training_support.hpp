// Shared by the model / checkpoint / trainer tests: the built-in plugins, scratch directories,
// and small synthetic corpora and configs that train in well under a second.
#pragma once

#include <charnn/detail/train_faults.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/trainer.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace charnn::test {

// The built-in plugins, each given by file so a broken one fails loudly instead of being skipped.
inline const PluginRegistry& builtin_plugins() {
  static const PluginRegistry reg = [] {
    PluginSearch search;
    search.use_default_dir = false;
    search.use_env = false;
    for (const auto& e : std::filesystem::directory_iterator(CHARNN_PLUGIN_DIR))
      if (e.path().extension() == ".so") search.files.push_back(e.path());
    std::sort(search.files.begin(), search.files.end());
    return PluginRegistry::discover(search);
  }();
  return reg;
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("charnn-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// n ids uniform in [0, V), the same for the same seed.
inline std::vector<std::int32_t> random_ids(std::size_t n, std::int32_t V, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int32_t> ids(n);
  for (auto& id : ids) id = static_cast<std::int32_t>(rng() % static_cast<std::uint32_t>(V));
  return ids;
}

inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A path as one shell word: in single quotes, with any ' inside closed, escaped and reopened.
inline std::string quote(const std::filesystem::path& p) {
  std::string q = "'";
  for (char c : p.string()) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; returns its exit code (128 + N when signal N ended it) and captures
// its stdout and stderr, interleaved.
inline int run_command(const std::string& cmd, std::string& output) {
  output.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A short sentence repeated: a small model can learn to predict it almost perfectly.
inline std::string repeating_corpus(std::size_t units = 6000) {
  const std::string line = "the quick brown fox jumps over the lazy dog.\n";
  std::string text;
  while (text.size() < units) text += line;
  text.resize(units);
  return text;
}

// A tiny, fast training config over `corpus` writing to `out`, single-threaded so runs are
// reproducible bit for bit.
inline TrainConfig tiny_config(const std::filesystem::path& corpus,
                               const std::filesystem::path& out) {
  TrainConfig c;
  c.corpus = {corpus};
  c.cells = {"lstm", "lstm"};
  c.hidden = 16;
  c.dropout = 0;  // not planned: tests expect the losses of a plain model
  c.seq_len = 12;
  c.batch = 4;
  c.schedule.lr = 1e-2;
  c.schedule.warmup = 0;  // 30 iterations: no room for the default warm-up
  c.schedule.kind = LrScheduleKind::cosine;
  c.max_iters = 30;
  c.eval_every = 10;
  c.eval_units = 0;
  c.log_every = 5;
  c.out = out;
  c.threads = 1;
  c.progress = TrainConfig::ProgressMode::quiet;
  return c;
}

// A resume of `run`: everything else comes from its checkpoint; one thread, so the losses
// continue bit for bit.
inline TrainConfig resume_of(const std::filesystem::path& run) {
  TrainConfig c;
  c.resume = run;
  c.threads = 1;
  c.progress = TrainConfig::ProgressMode::quiet;
  return c;
}

// A run with simulated faults: its result, what it printed and the loss of every step.
struct FaultyRun {
  TrainResult result;
  std::string log;
  std::map<std::int64_t, double> losses;
};
inline FaultyRun run_with_faults(const TrainConfig& c, const detail::TrainFaults& faults) {
  FaultyRun r;
  std::ostringstream log;
  TrainHooks hooks;
  hooks.log = &log;
  hooks.on_step = [&](std::int64_t it, double loss) { r.losses[it] = loss; };
  r.result = detail::train_with_faults(c, builtin_plugins(), hooks, faults);
  r.log = log.str();
  return r;
}

inline std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace charnn::test
