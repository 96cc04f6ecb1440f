// See cpu_load.hpp.
#include "cpu_load.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

namespace charnn::detail {

CpuSample sample_cpu() {
  CpuSample s;
  s.at = std::chrono::steady_clock::now();
  std::ifstream in("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  if (in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      cpu == "cpu") {
    s.busy = user + nice + system + irq + softirq + steal;
    s.total = s.busy + idle + iowait;
    s.valid = true;
  }
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0)
    s.own_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return s;
}

double others_busy_cpus(const CpuSample& from, const CpuSample& to) {
  if (!from.valid || !to.valid || to.total <= from.total) return 0;
  const double wall = std::chrono::duration<double>(to.at - from.at).count();
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (wall <= 0 || online < 1) return 0;
  const double busy = static_cast<double>(online) * static_cast<double>(to.busy - from.busy) /
                      static_cast<double>(to.total - from.total);
  return std::max(0.0, busy - (to.own_seconds - from.own_seconds) / wall);
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace charnn::detail
