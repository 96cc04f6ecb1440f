// See thread_governor.hpp.
#include "thread_governor.hpp"

#include <charnn/threads.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace charnn::detail {

ThreadGovernor::ThreadGovernor(bool enabled, std::chrono::milliseconds period)
    : enabled_(enabled), most_(get_threads()), period_(period), last_(sample_cpu()) {}

std::string ThreadGovernor::poll() {
  if (!enabled_ || most_ <= 1 || std::chrono::steady_clock::now() - last_.at < period_) return {};
  const CpuSample now = sample_cpu();
  const double others = others_busy_cpus(last_, now);
  last_ = now;
  const double free = usable_cpus() - others;
  const int had = get_threads();
  // Down as soon as the free CPUs round below the threads; up only when a whole CPU is clearly
  // free again (own threads that wait at barriers blur the measure by a few tenths).
  int want = had;
  if (std::lround(free) < had) want = static_cast<int>(std::lround(free));
  else if (free >= had + 0.8) want = static_cast<int>(std::floor(free + 0.2));
  want = std::clamp(want, 1, most_);
  if (want == had) return {};
  set_threads(want);
  char line[160];
  std::snprintf(line, sizeof line, "threads %d -> %d: other processes keep %.1f CPUs busy", had,
                want, others);
  return line;
}

}  // namespace charnn::detail
