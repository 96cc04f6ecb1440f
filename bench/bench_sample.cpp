// Sampling benchmark: characters per second of the whole generation loop (Model::step, the
// softmax and draw, appending text) for one stream and for parallel streams, with a model of
// random weights (speed does not depend on the values), and a breakdown of where one step's
// time goes: each layer's Cell::step, the output layer plus Model overhead, and the draw.
// Each count runs the plain one-step path (weights read in place, float32) and the prepared ones
// (Model::prepare_inference: weights copied once into oneDNN's matmul layout, f32 or bf16),
// one after another in the same minute, so their ratio survives a busy machine.
// Figures and the command that made them: bench/RESULTS.md, sections "sampling" and
// "prepared one-step path".
//
//   bench_sample [--H 512] [--layers 2] [--vocab 100] [--length 2000] [--threads 0]
//                [--cell lstm] [--counts 1,16] [--paths plain,f32,bf16,int8] [--reps 3] [--tune]
//   bench_sample --quality CHECKPOINT TEXT_FILE [--units 20000]
//
// --quality: what the precision costs on a trained model: the last --units units of TEXT_FILE
// (cleaned as the corpus was) fed one at a time through Model::step (one stream), for each path;
// reports bits per unit, the largest logit difference from the plain path and how often the
// most probable next unit differs from the plain path's.
//
// --tune: the whole-loop column lets the Sampler choose 1 thread or --threads per stretch of
// steps (SampleOptions::tune_threads, what `charnn sample` does by default); the step and
// layers columns always use --threads.
#include <charnn/cell.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/sampler.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>
#include <charnn/vocab.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <time.h>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct Options {
  std::int64_t H = 512, layers = 2, vocab = 100, length = 2000;
  int threads = 0;
  std::string cell = "lstm";
  std::vector<std::int64_t> counts{1, 16};
  std::vector<std::string> paths{"plain", "f32", "bf16", "int8"};
  int reps = 3;
  bool tune = false;
  std::string quality_model, quality_text;  // --quality
  std::int64_t units =
      20000;  // the loop lets the Sampler pick 1 or --threads threads (as charnn sample)
};

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  for (std::size_t p = 0; p <= v.size();) {
    const std::size_t q = std::min(v.find(',', p), v.size());
    if (q > p) out.push_back(v.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

// A vocabulary of V distinct one-code-point units with Zipf-like counts (ids by frequency).
charnn::Vocab synthetic_vocab(std::int64_t V) {
  charnn::TextOptions text;
  text.units = charnn::UnitKind::codepoint;
  charnn::UnitCounter counter(text.units);
  for (std::int64_t i = 0; i < V; ++i) {
    const char32_t cp = i == 0 ? U'\n' : static_cast<char32_t>(0x20 + i);  // ASCII and beyond
    std::string u;
    if (cp < 0x80) {
      u += static_cast<char>(cp);
    } else {
      u += static_cast<char>(0xC0 | (cp >> 6));
      u += static_cast<char>(0x80 | (cp & 0x3F));
    }
    counter.add_unit(u, 1000000 / (i + 1));
  }
  return charnn::Vocab::build(counter, text);
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The best (least disturbed: the machine is shared) of `reps` timings of fn, after a warm-up.
// Wall-clock seconds; *cpu (optional) receives the process CPU seconds of that best run, which
// on a busy machine is the better estimate of the single-thread cost (it excludes the time
// other processes held the core, though not their effect on the shared caches).
template <class F>
double best_of(int reps, F&& fn, double* cpu = nullptr) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_seconds();
    const auto t0 = clock_type::now();
    fn();
    const double t = seconds_since(t0);
    if (t < best) {
      best = t;
      if (cpu) *cpu = cpu_seconds() - c0;
    }
  }
  return best;
}

// --quality: teacher-forced bits per unit of the last `units` units of a text, per step path.
int run_quality(const Options& o, const charnn::PluginRegistry& reg) {
  charnn::LoadedModel loaded = charnn::load_model(o.quality_model, reg);
  charnn::Model& model = *loaded.model;
  std::ifstream in(o.quality_text, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bench_sample: cannot read %s\n", o.quality_text.c_str());
    return 1;
  }
  std::ostringstream raw;
  raw << in.rdbuf();
  const std::string text =
      charnn::clean_text(raw.str(), loaded.vocab.text_options(), o.quality_text);
  std::vector<std::int32_t> ids = loaded.vocab.encode(text);
  if (static_cast<std::int64_t>(ids.size()) > o.units + 1)
    ids.erase(ids.begin(), ids.end() - (o.units + 1));
  const std::int64_t V = model.vocab_size(), T = static_cast<std::int64_t>(ids.size()) - 1;
  std::printf("%s, last %lld units of %s\n", loaded.file.string().c_str(), (long long)T,
              o.quality_text.c_str());
  std::printf("%-6s %12s %16s %18s\n", "path", "bits/unit", "max |dlogit|", "argmax differs");
  std::vector<float> plain_logits;  // (T, V) of the plain path
  for (const std::string& path : o.paths) {
    std::string used = "plain";
    if (path == "plain")
      model.release_inference();
    else
      used = model.prepare_inference(charnn::parse_step_precision(path));
    auto state = model.zero_state(1);
    std::vector<float> logits(static_cast<std::size_t>(T * V));
    double nats = 0.0;
    for (std::int64_t t = 0; t < T; ++t) {
      float* l = logits.data() + t * V;
      model.step(std::span<const std::int32_t>(&ids[static_cast<std::size_t>(t)], 1), state, l);
      const float m = *std::max_element(l, l + V);
      double sum = 0.0;
      for (std::int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v] - m));
      nats += std::log(sum) + m - l[ids[static_cast<std::size_t>(t + 1)]];
    }
    if (plain_logits.empty() && path == "plain") plain_logits = logits;
    double max_diff = 0.0;
    std::int64_t argmax_diff = 0;
    if (!plain_logits.empty())
      for (std::int64_t t = 0; t < T; ++t) {
        const float* a = logits.data() + t * V;
        const float* b = plain_logits.data() + t * V;
        for (std::int64_t v = 0; v < V; ++v)
          max_diff = std::max(max_diff, std::abs(static_cast<double>(a[v] - b[v])));
        argmax_diff += std::max_element(a, a + V) - a != std::max_element(b, b + V) - b;
      }
    std::printf("%-6s %12.4f %16.2e %11lld of %lld%s\n", path.c_str(),
                nats / static_cast<double>(T) / std::log(2.0), max_diff, (long long)argmax_diff,
                (long long)T, used == path ? "" : ("  (model: " + used + ")").c_str());
  }
  std::printf("max |dlogit| and argmax: against the plain path (run it first in --paths).\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::fprintf(stderr, "bench_sample: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++k];
    };
    if (a == "--H")
      o.H = std::atol(value().c_str());
    else if (a == "--layers")
      o.layers = std::atol(value().c_str());
    else if (a == "--vocab")
      o.vocab = std::atol(value().c_str());
    else if (a == "--length")
      o.length = std::atol(value().c_str());
    else if (a == "--threads")
      o.threads = std::atoi(value().c_str());
    else if (a == "--cell")
      o.cell = value();
    else if (a == "--counts") {
      o.counts.clear();
      for (const auto& c : split_list(value())) o.counts.push_back(std::atol(c.c_str()));
    } else if (a == "--paths") {
      o.paths = split_list(value());
      for (const auto& p : o.paths)
        if (p != "plain" && p != "f32" && p != "bf16" && p != "int8") {
          std::fprintf(stderr, "bench_sample: unknown path '%s' (plain, f32, bf16, int8)\n",
                       p.c_str());
          return 2;
        }
    } else if (a == "--reps")
      o.reps = std::atoi(value().c_str());
    else if (a == "--tune")
      o.tune = true;
    else if (a == "--quality") {
      o.quality_model = value();
      o.quality_text = value();
    } else if (a == "--units")
      o.units = std::atol(value().c_str());
    else {
      std::printf(
          "usage: bench_sample [--H 512] [--layers 2] [--vocab 100] [--length 2000] "
          "[--threads 0] [--cell lstm] [--counts 1,16] [--paths plain,f32,bf16,int8] [--reps 3] "
          "[--tune]\n       bench_sample --quality CHECKPOINT TEXT_FILE [--units 20000] "
          "[--paths plain,f32,bf16,int8]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  charnn::set_threads(o.threads);
  const charnn::PluginRegistry reg = charnn::PluginRegistry::discover();
  if (!o.quality_model.empty()) return run_quality(o, reg);
  const charnn::Vocab vocab = synthetic_vocab(o.vocab);
  charnn::ModelConfig config;
  config.cells.assign(static_cast<std::size_t>(o.layers), o.cell);
  config.hidden = o.H;
  config.vocab_size = vocab.size();
  charnn::Model model(config, reg);
  model.init_params(1);
  const std::int64_t H = o.H, V = vocab.size();

  std::printf(
      "%lld x %lld %s, vocab %lld, %d thread(s)%s, %lld units per sample, bf16 %s\n",
      (long long)o.layers, (long long)H, o.cell.c_str(), (long long)V, charnn::get_threads(),
      o.tune ? " (loop: tuned)" : "", (long long)o.length,
      charnn::default_step_precision() == charnn::StepPrecision::bf16 ? "native" : "not native");
  std::printf("%-6s %-6s %10s %11s %10s %10s %10s %10s %10s\n", "count", "path", "chars/s",
              "chars/cpu-s", "us/step", "step us", "layers us", "output us", "draw us");

  // The cell layers alone, through separate Cells holding copies of the model's weights.
  std::vector<charnn::Cell> cells;
  std::vector<std::vector<float>> params;  // flat, per layer
  const std::span<const float> all = std::as_const(model).params();
  for (std::int32_t l = 0; l < model.num_layers(); ++l) {
    cells.push_back(reg.create_cell(o.cell, l == 0 ? V : H, H));
    const std::string prefix = "layer" + std::to_string(l) + ".";
    std::vector<float> p;
    for (const auto& v : model.views())
      if (v.name.rfind(prefix, 0) == 0)
        p.insert(p.end(), all.begin() + v.offset, all.begin() + v.offset + v.size);
    params.push_back(std::move(p));
  }

  const int reps = o.reps;
  for (const std::int64_t N : o.counts) {
    for (const std::string& path : o.paths) {
      // Set up this path on the model (for 1 and 2) and on the separate cells (for 3).
      std::optional<charnn::StepPrecision> precision;
      std::string used = "plain";
      if (path == "plain") {
        model.release_inference();
        for (auto& c : cells) c.release_step();
      } else {
        precision = charnn::parse_step_precision(path);
        used = model.prepare_inference(*precision);
        const charnn_precision want = path == "int8"   ? CHARNN_PRECISION_INT8
                                      : path == "bf16" ? CHARNN_PRECISION_BF16
                                                       : CHARNN_PRECISION_F32;
        for (std::size_t l = 0; l < cells.size(); ++l)
          if (!cells[l].prepare_step(params[l].data(), want))
            cells[l].prepare_step(params[l].data(), CHARNN_PRECISION_F32);
      }

      // 1. The whole generation loop, as `charnn sample --count N` runs it.
      charnn::Sampler sampler(model, vocab);
      charnn::SampleOptions opts;
      opts.length = o.length;
      opts.count = N;
      opts.random_seed = 7;
      opts.precision = std::nullopt;  // as set up above
      opts.tune_threads = o.tune;
      const charnn::PreparedSeed seed;  // empty: starts from the zero state
      double loop_cpu = 0.0;
      const double loop = best_of(
          reps, [&] { sampler.run(seed, opts); }, &loop_cpu);

      // 2. Model::step alone (N streams, one-hot ids).
      const std::int64_t steps = std::max<std::int64_t>(200, o.length / 4);
      std::vector<std::int32_t> ids(static_cast<std::size_t>(N));
      std::vector<float> logits(static_cast<std::size_t>(N * V));  // (N, V)
      auto state = model.zero_state(N);
      const double step = best_of(reps,
                                  [&] {
                                    for (std::int64_t t = 0; t < steps; ++t) {
                                      for (std::int64_t n = 0; n < N; ++n)
                                        ids[static_cast<std::size_t>(n)] =
                                            static_cast<std::int32_t>((t * 31 + n * 7) % V);
                                      model.step(ids, state, logits.data());
                                    }
                                  }) /
                          static_cast<double>(steps);

      // 3. The cell layers alone.
      std::vector<std::vector<float>> states, dst;  // (S, N, H); (N, H)
      for (const auto& c : cells) {
        states.emplace_back(c.states().size() * static_cast<std::size_t>(N * H), 0.0f);
        dst.emplace_back(static_cast<std::size_t>(N * H), 0.0f);
      }
      const double layers =
          best_of(
              reps,
              [&] {
                for (std::int64_t t = 0; t < steps; ++t) {
                  for (std::int64_t n = 0; n < N; ++n)
                    ids[static_cast<std::size_t>(n)] =
                        static_cast<std::int32_t>((t * 31 + n * 7) % V);
                  for (std::size_t l = 0; l < cells.size(); ++l)
                    cells[l].step({N, params[l].data(), l == 0 ? nullptr : dst[l - 1].data(),
                                   l == 0 ? ids.data() : nullptr, states[l].data(), dst[l].data()});
                }
              }) /
          static_cast<double>(steps);

      // 4. The draw: softmax at temperature 1 and one sample per stream.
      charnn::UnitPicker picker(charnn::SamplingPolicy{}, static_cast<std::int32_t>(V));
      charnn::Rng rng(1);
      for (auto& x : logits) x = static_cast<float>(rng.uniform() * 8.0 - 4.0);
      std::int64_t sink = 0;
      const double draw =
          best_of(reps,
                  [&] {
                    for (std::int64_t t = 0; t < steps; ++t)
                      for (std::int64_t n = 0; n < N; ++n)
                        sink += picker
                                    .pick(std::span<const float>(logits.data() + n * V,
                                                                 static_cast<std::size_t>(V)),
                                          rng)
                                    .id;
                  }) /
          static_cast<double>(steps);

      const double per_step = loop / static_cast<double>(o.length);
      std::printf("%-6lld %-6s %10.0f %11.0f %10.1f %10.1f %10.1f %10.1f %10.1f%s%s\n",
                  (long long)N, path.c_str(), static_cast<double>(N * o.length) / loop,
                  static_cast<double>(N * o.length) / loop_cpu, per_step * 1e6, step * 1e6,
                  layers * 1e6, (step - layers) * 1e6, draw * 1e6, sink < 0 ? "!" : "",
                  used == path ? "" : ("  (model: " + used + ")").c_str());
      std::fflush(stdout);
    }
  }
  std::printf(
      "chars/s: generated units per second over all streams (whole loop, wall clock);\n"
      "chars/cpu-s: the same per second of process CPU time; us/step: one loop step (wall);\n"
      "step: Model::step; layers: the cells' step() alone; output: step - layers (output "
      "layer + overhead);\ndraw: softmax + sampling for all N streams. path: plain = weights "
      "read in place (f32), f32/bf16/int8 = prepared copies (Model::prepare_inference).\n");
  return 0;
}
