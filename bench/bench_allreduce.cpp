// The time of one gradient sum between ranks (charnn::Ranks::sum, an MPI_Allreduce in place),
// as training does once per step. Run under mpirun (bench/ranks.sh does):
//   mpirun -np 2 --bind-to none bench_allreduce [FLOATS] [REPEATS]
// FLOATS defaults to 3.4M, the 2x512 model's gradient. The root prints the median time and the
// bus bandwidth a ring allreduce would need for it (2 (K-1)/K x bytes / time).
#include <charnn/ranks.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const std::size_t floats = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 3'400'000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 30;
  charnn::Ranks& ranks = charnn::Ranks::world();
  std::vector<float> grads(floats, 1.0f);
  std::vector<double> took;
  for (int i = 0; i < repeats + 3; ++i) {
    std::vector<double> sync(1, 0.0);
    ranks.sum(sync);  // start together
    const auto t0 = std::chrono::steady_clock::now();
    ranks.sum(grads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 3) took.push_back(s);  // the first calls set up buffers
  }
  std::sort(took.begin(), took.end());
  const double median = took[took.size() / 2];
  const int k = ranks.size();
  const double bytes = 4.0 * static_cast<double>(floats);
  if (ranks.root())
    std::printf(
        "ranks %d  floats %zu  allreduce median %.3f ms (min %.3f, max %.3f)  bus %.2f GB/s\n", k,
        floats, median * 1e3, took.front() * 1e3, took.back() * 1e3,
        k > 1 ? 2.0 * (k - 1) / k * bytes / median / 1e9 : 0.0);
  ranks.finish();
  return 0;
}
