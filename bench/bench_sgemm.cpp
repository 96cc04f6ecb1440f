// The machine's matrix-multiply peak as charnn sees it: oneDNN's dnnl_sgemm on square float32
// matrices with oneDNN's default threads (every core). bench/compare.sh states charnn's speeds
// as fractions of this figure, measured in the same run, since the peak itself drifts up to 2x
// between days on the same kind of machine.
//
//   bench_sgemm [SIZE] [REPS]       default 2048, 5: prints "sgemm SIZE^3 GFLOP/s (best of REPS)"
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 2048;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  if (n <= 0 || n > 16384 || reps <= 0) {
    std::fprintf(stderr, "usage: bench_sgemm [SIZE 1..16384] [REPS >= 1]\n");
    return 2;
  }
  const auto count = static_cast<std::size_t>(n * n);
  std::vector<float> a(count), b(count), c(count);
  for (std::size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
    b[i] = static_cast<float>(i % 5) * 0.5f - 1.0f;
  }
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {  // the first call is a warm-up
    const auto t0 = std::chrono::steady_clock::now();
    if (dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n) !=
        dnnl_success) {
      std::fprintf(stderr, "bench_sgemm: dnnl_sgemm failed\n");
      return 1;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  std::printf("sgemm %ld^3 %.1f GFLOP/s (best of %d)\n", n, 2.0 * n * n * n / best / 1e9, reps);
  return 0;
}
