// Thread count for everything charnn runs in parallel (oneDNN uses OpenMP here, and so do the
// loss and optimiser loops).
#pragma once

namespace charnn {

// n >= 1: use n threads. n <= 0: as many as free_cpus(). Call before building models: oneDNN
// primitives must not later run with more threads than they were made for.
void set_threads(int n);
// The number of threads parallel regions will use.
int get_threads();

// The CPUs this process may use (its affinity) less those other processes keep busy, measured
// over 100 ms; at least 1. OpenMP threads that share a CPU with another busy process wait for
// each other at every barrier, so a busy CPU is worth less than none.
int free_cpus();

}  // namespace charnn
