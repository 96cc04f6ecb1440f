// See sequence_args.hpp.
#include "sequence_args.hpp"

#include <string>

namespace charnn_cells {

using charnn::plugin::Error;

void check_sequence_args(std::int64_t I, std::int64_t T, std::int64_t N, const float* params,
                         const float* src, bool by_index, const std::int32_t* src_index,
                         const float* dst, const char* what) {
  if (T < 1 || N < 1)
    throw Error(CHARNN_ERR_ARGUMENT, std::string(what) + ": T and N must be at least 1 (got T=" +
                                         std::to_string(T) + ", N=" + std::to_string(N) + ")");
  if (!params || !dst || (by_index ? !src_index : !src))
    throw Error(CHARNN_ERR_ARGUMENT, std::string(what) + ": params, " +
                                         (by_index ? "src_index" : "src") +
                                         " and dst are required");
  if (by_index)
    for (std::int64_t r = 0; r < T * N; ++r)
      if (src_index[r] < 0 || src_index[r] >= I)
        throw Error(CHARNN_ERR_ARGUMENT, std::string(what) + ": src_index[" + std::to_string(r) +
                                             "] = " + std::to_string(src_index[r]) +
                                             " is outside the input width " + std::to_string(I));
}

}  // namespace charnn_cells
