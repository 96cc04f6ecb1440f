// Training on an automatic thread count (no --threads): follows the CPUs other processes keep
// busy. A process that starts competing for a CPU makes OpenMP threads wait for each other at
// every barrier (a tiny model ran at ~1 iteration/s with 2 threads beside a busy process, ~86
// with 1), so the count drops when others compete and rises again when they stop, never above
// the count the run started with (oneDNN primitives must not run with more threads than they
// were made for).
#pragma once

#include <chrono>
#include <string>

#include "cpu_load.hpp"

namespace charnn::detail {

class ThreadGovernor {
 public:
  // enabled: the thread count is automatic. Measures from now on.
  explicit ThreadGovernor(bool enabled,
                          std::chrono::milliseconds period = std::chrono::seconds(3));
  // Between steps: nothing but a clock read, except once per period, when it measures and may
  // change the count. Returns "" or one line saying what changed and why.
  std::string poll();

 private:
  bool enabled_;
  int most_;
  std::chrono::milliseconds period_;
  CpuSample last_;
};

}  // namespace charnn::detail
