// Cell benchmark: training throughput of one layer (forward + backward over T x N) and the
// one-step sampling latency of a two-layer stack, for every cell the registry finds (or the
// ones named on the command line). The one-step rows show the plain step and the prepared ones
// (prepare_step in f32, bf16, int8). Prints a table; bench/RESULTS.md records the figures.
//
//   bench_cells [--reps R] [--T 50] [--N 50] [--H 512] [--vocab 65] [--steps S]
//               [--train-precision f32|bf16] [cell...]
#include <charnn/cell.hpp>
#include <charnn/plugin_registry.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct Options {
  std::int64_t T = 50, N = 50, H = 512, vocab = 65;
  int reps = 5;      // timed forward+backward repetitions per layer (after one warm-up)
  int steps = 2000;  // timed one-step calls per stack
  charnn_precision train = CHARNN_PRECISION_F32;  // of the training passes
  std::vector<std::string> cells;
};

// The best of the repetitions: the machine is shared, and the minimum is the least disturbed.
struct Timing {
  double fwd = 1e30, fwd_bwd = 1e30;
};

// Forward (training) + backward of one layer with input width I.
Timing time_layer(const charnn::PluginRegistry& reg, const std::string& name, std::int64_t I,
                  const Options& o) {
  const std::int64_t T = o.T, N = o.N, H = o.H;
  charnn::Cell cell = reg.create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  std::vector<float> params(cell.param_count()), diff_params(cell.param_count(), 0.0f);  // flat
  cell.init_params(params, 1);
  if (!cell.set_train_precision(o.train)) {
    std::fprintf(stderr, "bench_cells: %s cannot train in that precision here\n", name.c_str());
    std::exit(2);
  }
  std::vector<float> src(T * N * I, 0.0f);  // (T, N, I): one-hot when I is the vocabulary
  for (std::int64_t k = 0; k < T * N; ++k)
    if (I == o.vocab)
      src[k * I + (k * 7919) % I] = 1.0f;
    else
      for (std::int64_t i = 0; i < I; ++i) src[k * I + i] = float((k + i) % 17) / 17.0f - 0.5f;
  std::vector<float> dst(T * N * H), diff_dst(T * N * H, 0.01f);   // (T, N, H)
  std::vector<float> state(S * N * H, 0.0f), diff_src(T * N * I);  // (S, N, H), (T, N, I)
  std::vector<float> diff_state(S * N * H);                        // (S, N, H)
  Timing best;
  for (int r = 0; r <= o.reps; ++r) {  // r == 0 is the warm-up (creates the primitives)
    auto t0 = clock_type::now();
    cell.forward({T, N, params.data(), src.data(), state.data(), dst.data(), state.data(), 1, nullptr});
    const double tf = seconds_since(t0);
    cell.backward({T, N, params.data(), src.data(), state.data(), dst.data(), diff_dst.data(),
                   nullptr, diff_src.data(), diff_params.data(), diff_state.data(), nullptr});
    const double tfb = seconds_since(t0);
    if (r > 0) {
      best.fwd = std::min(best.fwd, tf);
      best.fwd_bwd = std::min(best.fwd_bwd, tfb);
    }
  }
  return best;
}

// One-step sampling through two layers (vocab -> H -> H), N = 1, one-hot input by index.
// precision < 0: the plain step (weights read in place); otherwise prepare_step with that
// charnn_precision first. Returns 0 when the cell does not offer that prepared precision.
double time_step(const charnn::PluginRegistry& reg, const std::string& name, const Options& o,
                 int precision) {
  const std::int64_t H = o.H;
  charnn::Cell l0 = reg.create_cell(name, o.vocab, H);
  charnn::Cell l1 = reg.create_cell(name, H, H);
  const std::int64_t S = static_cast<std::int64_t>(l0.states().size());
  std::vector<float> p0(l0.param_count()), p1(l1.param_count());  // flat
  l0.init_params(p0, 1);
  l1.init_params(p1, 2);
  if (precision >= 0) {
    const auto p = static_cast<charnn_precision>(precision);
    if (!l0.prepare_step(p0.data(), p) || !l1.prepare_step(p1.data(), p)) return 0.0;
  }
  std::vector<float> s0(S * H, 0.0f), s1(S * H, 0.0f), h0(H), h1(H);  // (S, 1, H), (1, H)
  double best = 1e30;
  const int chunks = 5;
  for (int c = 0; c <= chunks; ++c) {
    auto t0 = clock_type::now();
    const int n = c == 0 ? 50 : o.steps / chunks;
    for (int k = 0; k < n; ++k) {
      const std::int32_t idx = (k * 31) % static_cast<std::int32_t>(o.vocab);
      l0.step({1, p0.data(), nullptr, &idx, s0.data(), h0.data()});
      l1.step({1, p1.data(), h0.data(), nullptr, s1.data(), h1.data()});
    }
    if (c > 0) best = std::min(best, seconds_since(t0) / n);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto next = [&]() -> long {
      if (k + 1 >= argc) {
        std::fprintf(stderr, "bench_cells: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atol(argv[++k]);
    };
    if (a == "--reps")
      o.reps = static_cast<int>(next());
    else if (a == "--T")
      o.T = next();
    else if (a == "--N")
      o.N = next();
    else if (a == "--H")
      o.H = next();
    else if (a == "--vocab")
      o.vocab = next();
    else if (a == "--steps")
      o.steps = static_cast<int>(next());
    else if (a == "--train-precision" && k + 1 < argc) {
      const std::string v = argv[++k];
      if (v != "f32" && v != "bf16") {
        std::fprintf(stderr, "bench_cells: --train-precision is f32 or bf16\n");
        return 2;
      }
      o.train = v == "bf16" ? CHARNN_PRECISION_BF16 : CHARNN_PRECISION_F32;
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: bench_cells [--reps 5] [--T 50] [--N 50] [--H 512] [--vocab 65] "
          "[--steps 2000] [--train-precision f32|bf16] [cell...]\n");
      return 0;
    } else
      o.cells.push_back(a);
  }
  const charnn::PluginRegistry reg = charnn::PluginRegistry::discover();
  if (o.cells.empty())
    for (const auto& p : reg.plugins()) o.cells.push_back(p->name());

  std::printf(
      "T=%lld N=%lld H=%lld vocab=%lld, training in %s, best of %d reps (after 1 warm-up)\n",
      (long long)o.T, (long long)o.N, (long long)o.H, (long long)o.vocab,
      o.train == CHARNN_PRECISION_BF16 ? "bf16" : "f32", o.reps);
  std::printf("%-8s %6s %10s %12s %12s %10s\n", "cell", "I", "fwd ms", "fwd+bwd ms", "chars/s",
              "GFLOP/s");
  for (const auto& name : o.cells) {
    double stack = 0;
    for (std::int64_t I : {o.H, o.vocab}) {
      const Timing t = time_layer(reg, name, I, o);
      charnn::Cell probe = reg.create_cell(name, I, o.H);
      // Matmul work: forward 2*T*N*P, backward about twice that (data and weight gradients),
      // where P ~ parameter count; pointwise work is ignored.
      const double flops = 6.0 * double(o.T * o.N) * double(probe.param_count());
      std::printf("%-8s %6lld %10.2f %12.2f %12.0f %10.1f\n", name.c_str(), (long long)I,
                  t.fwd * 1e3, t.fwd_bwd * 1e3, double(o.T * o.N) / t.fwd_bwd,
                  flops / t.fwd_bwd * 1e-9);
      stack += t.fwd_bwd;
    }
    std::printf("%-8s two-layer stack (I=%lld then %lld): %.2f ms, %.0f chars/s (layers only)\n",
                name.c_str(), (long long)o.vocab, (long long)o.H, stack * 1e3,
                double(o.T * o.N) / stack);
  }
  std::printf(
      "\none-step sampling, N=1, two layers (%lld -> %lld -> %lld), one-hot input by "
      "index\n",
      (long long)o.vocab, (long long)o.H, (long long)o.H);
  std::printf("%-8s %-10s %12s %12s\n", "cell", "step", "us/char", "chars/s");
  const std::pair<const char*, int> kinds[] = {{"plain", -1},
                                               {"f32", CHARNN_PRECISION_F32},
                                               {"bf16", CHARNN_PRECISION_BF16},
                                               {"int8", CHARNN_PRECISION_INT8}};
  for (const auto& name : o.cells)
    for (const auto& [kind, precision] : kinds) {
      const double s = time_step(reg, name, o, precision);
      if (s > 0)
        std::printf("%-8s %-10s %12.1f %12.0f\n", name.c_str(), kind, s * 1e6, 1.0 / s);
      else
        std::printf("%-8s %-10s %12s\n", name.c_str(), kind, "(not offered)");
    }
  return 0;
}
