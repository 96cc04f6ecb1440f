// Thread count: oneDNN's CPU engine here runs on OpenMP, so one omp_set_num_threads call governs
// both oneDNN and charnn's own parallel loops.
#include "charnn/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <thread>

namespace charnn {

void set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(n);
}

int get_threads() {
  return omp_get_max_threads();
}

}  // namespace charnn
