// Thread count for everything charnn runs in parallel (oneDNN uses OpenMP here, and so do the
// loss and optimiser loops).
#pragma once

namespace charnn {

// n >= 1: use n threads; n <= 0: use every core. Call before building models.
void set_threads(int n);
// The number of threads parallel regions will use.
int get_threads();

}  // namespace charnn
