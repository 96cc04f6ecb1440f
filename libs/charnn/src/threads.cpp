// Thread count: oneDNN's CPU engine here runs on OpenMP, so one omp_set_num_threads call governs
// both oneDNN and charnn's own parallel loops.
#include "charnn/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "cpu_load.hpp"

namespace charnn {

int free_cpus() {
  const detail::CpuSample a = detail::sample_cpu();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const detail::CpuSample b = detail::sample_cpu();
  const int usable = detail::usable_cpus();
  // A CPU more than half busy counts as taken.
  const long free = std::lround(usable - detail::others_busy_cpus(a, b));
  return static_cast<int>(std::clamp<long>(free, 1, usable));
}

void set_threads(int n) {
  omp_set_num_threads(n >= 1 ? n : free_cpus());
}

int get_threads() {
  return omp_get_max_threads();
}

}  // namespace charnn
