// The argument checks the built-in cells' sequence passes share (rnn_cell.cpp, gru/gru.cpp).
#pragma once

#include <charnn/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace charnn_cells {

// The args as a cell reads them. src_index (ABI 1.2) is read only once the host has switched it
// on: a host that predates it passes a struct that ends before the field.
template <class Args>
Args known_fields(const Args& a, bool index_input) {
  if (index_input) return a;
  Args c{};
  std::memcpy(&c, &a, offsetof(Args, src_index));
  return c;
}

// Throws CHARNN_ERR_ARGUMENT, naming `what`, unless T, N >= 1, params and dst are given, and the
// input is: src_index with every entry in [0, I) when by_index, else src.
void check_sequence_args(std::int64_t I, std::int64_t T, std::int64_t N, const float* params,
                         const float* src, bool by_index, const std::int32_t* src_index,
                         const float* dst, const char* what);

}  // namespace charnn_cells
