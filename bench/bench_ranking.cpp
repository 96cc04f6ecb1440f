// The analysis side of `charnn inspect` alone: UnitRanker::add (running sums for Pearson r,
// AUROC histograms, gate saturation) on a trace shaped like a 2x512 GRU's or LSTM's, with the
// built-in probes' mix of three binary and three continuous probes, fed in inspect's chunks.
// The values are made up (speed depends only on the shapes and on how often a binary probe is
// on), so the figure is units of text per second of the ranking, to set against the trace's.
//
//   bench_ranking [--cell gru|lstm] [--H 512] [--layers 2] [--units 200000] [--chunk 128]
//                 [--reps 3]
#include <charnn/probes.hpp>
#include <charnn/ranking.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace {

struct Args {
  std::string cell = "gru";
  std::int64_t H = 512, layers = 2, units = 200000, chunk = 128, reps = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_ranking: %s needs a value\n", k.c_str());
      std::exit(2);
    }
    const char* v = argv[++i];
    if (k == "--cell")
      a.cell = v;
    else if (k == "--H")
      a.H = std::atol(v);
    else if (k == "--layers")
      a.layers = std::atol(v);
    else if (k == "--units")
      a.units = std::atol(v);
    else if (k == "--chunk")
      a.chunk = std::atol(v);
    else if (k == "--reps")
      a.reps = std::atol(v);
    else {
      std::fprintf(stderr, "bench_ranking: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if ((a.cell != "gru" && a.cell != "lstm") || a.H <= 0 || a.layers <= 0 || a.units <= 0 ||
      a.chunk <= 0 || a.reps <= 0) {
    std::fprintf(stderr, "bench_ranking: bad arguments (see the header of bench_ranking.cpp)\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const std::vector<std::string> names =
      a.cell == "gru" ? std::vector<std::string>{"h", "r", "z", "n"}
                      : std::vector<std::string>{"h", "c", "i", "f", "o", "g"};
  std::vector<charnn::TracedSignal> signals;
  for (std::int64_t l = 0; l < a.layers; ++l)
    for (const auto& n : names) signals.push_back({static_cast<std::int32_t>(l), n, a.H});

  // Probes with the on-rates of the built-in ones on English prose: in quotes ~20%, word starts
  // ~18%, after a sentence ~1%.
  std::vector<charnn::Probe> probes;
  const double on_rate[] = {0.2, 0.18, 0.01};
  for (int p = 0; p < 6; ++p) {
    const bool binary = p % 2 == 0;
    std::string name = "p";  // not "p" + to_string: GCC 12 warns of a false -Wrestrict there
    name += std::to_string(p);
    charnn::Probe probe{
        name, "", binary ? charnn::ProbeKind::binary : charnn::ProbeKind::continuous, {}};
    probe.values.resize(static_cast<std::size_t>(a.units));
    std::uint64_t s = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(p + 1);
    for (auto& v : probe.values) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const double u = static_cast<double>(s >> 11) / 9007199254740992.0;
      v = binary ? (u < on_rate[p / 2] ? 1.0f : 0.0f) : static_cast<float>(u * 80.0);
    }
    probes.push_back(std::move(probe));
  }
  std::vector<const charnn::Probe*> probe_ptrs;
  for (const auto& p : probes) probe_ptrs.push_back(&p);

  // One chunk's values per signal, reused for every chunk: tanh-like and sigmoid-like spreads.
  std::vector<std::vector<float>> chunk(signals.size());
  for (std::size_t s = 0; s < signals.size(); ++s) {
    chunk[s].resize(static_cast<std::size_t>(a.chunk * a.H));
    const bool gate = charnn::is_gate_signal(signals[s].name);
    for (std::size_t k = 0; k < chunk[s].size(); ++k) {
      const float x = std::sin(0.37f * static_cast<float>(k) + static_cast<float>(s));
      chunk[s][k] = gate ? 0.5f + 0.5f * x : (signals[s].name == "c" ? 3.0f * x : x);
    }
  }
  std::vector<std::span<const float>> spans;
  for (const auto& c : chunk) spans.emplace_back(c);

  std::printf("bench_ranking: %s %lldx%lld, %zu signals, %lld units in chunks of %lld\n",
              a.cell.c_str(), static_cast<long long>(a.layers), static_cast<long long>(a.H),
              signals.size(), static_cast<long long>(a.units), static_cast<long long>(a.chunk));
  double best = 1e30;
  for (std::int64_t r = 0; r < a.reps; ++r) {
    charnn::UnitRanker ranker(signals, probe_ptrs);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t begin = 0; begin < a.units; begin += a.chunk) {
      const std::int64_t T = std::min(a.chunk, a.units - begin);
      ranker.add(begin, T, spans);
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, sec);
    std::printf("  round %lld: %.2f s, %.1fk units/s\n", static_cast<long long>(r + 1), sec,
                static_cast<double>(a.units) / sec / 1e3);
  }
  std::printf("ranking: %.1fk units/s (best of %lld)\n", static_cast<double>(a.units) / best / 1e3,
              static_cast<long long>(a.reps));
  return 0;
}
