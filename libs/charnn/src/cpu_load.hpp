// How busy the machine's CPUs are, and how much of that is this process: what the automatic
// thread count (threads.hpp, thread_governor.hpp) is chosen from.
#pragma once

#include <chrono>
#include <cstdint>

namespace charnn::detail {

struct CpuSample {
  std::uint64_t busy = 0, total = 0;  // jiffies of all CPUs, from /proc/stat
  double own_seconds = 0;             // CPU time of this process (user + system)
  std::chrono::steady_clock::time_point at;
  bool valid = false;  // false where /proc/stat cannot be read
};
CpuSample sample_cpu();

// CPUs other processes kept busy between two samples (0 when either is not valid).
double others_busy_cpus(const CpuSample& from, const CpuSample& to);

// CPUs this process may run on (its affinity mask, so taskset and cpusets count), at least 1.
int usable_cpus();

}  // namespace charnn::detail
