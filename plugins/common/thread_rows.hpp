// How the cells' backward pointwise passes share a step's N rows among OpenMP threads: each
// thread takes whole rows (long runs the hardware prefetcher follows; split by units, each row
// came in short pieces and the pass took twice the time) and sums its rows' bias gradients in a
// slice of its own, added up in thread order at the end, so the sums are the same from run to
// run for a given thread count (as oneDNN's products are).
#pragma once

#include <cstdint>
#include <vector>

namespace charnn_cells {

struct RowRange {
  std::int64_t begin, end;
};

// Thread k's rows of n, for threads threads: contiguous, sizes differing by at most one.
inline RowRange rows_of_thread(std::int64_t n, int k, int threads) {
  return {n * k / threads, n * (k + 1) / threads};
}

// to[i] += partial[k * len + i] over the threads k in order, for i < count (count <= len).
inline void add_thread_sums(const std::vector<float>& partial, int threads, std::int64_t len,
                            std::int64_t count, float* to) {
  for (int k = 0; k < threads; ++k)
    for (std::int64_t i = 0; i < count; ++i) to[i] += partial[k * len + i];
}

}  // namespace charnn_cells
