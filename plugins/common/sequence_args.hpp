// What the built-in cells' sequence passes share about their arguments (rnn_cell.cpp,
// gru/gru.cpp): the fields a host switched on, the checks, and a trace as a forward.
#pragma once

#include <charnn/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace charnn_cells {

// The args as a cell reads them. src_index (ABI 1.2; in trace, 1.5) is read only once the host
// has switched it on: a host that predates it passes a struct that ends before the field.
template <class Args>
Args known_fields(const Args& a, bool index_input) {
  if (index_input) return a;
  Args c{};
  std::memcpy(&c, &a, offsetof(Args, src_index));
  return c;
}

// The inference forward a traced sequence runs: the trace's T, N, params, input (src, or
// src_index from known_fields) and states, no training.
inline charnn_forward_args inference_args(const charnn_trace_args& a) {
  charnn_forward_args f{};
  f.T = a.T;
  f.N = a.N;
  f.params = a.params;
  f.src = a.src;
  f.src_index = a.src_index;
  f.state_in = a.state_in;
  f.dst = a.dst;
  f.state_out = a.state_out;
  f.training = 0;
  return f;
}

// Throws CHARNN_ERR_ARGUMENT, naming `what`, unless T, N >= 1, params and dst are given, and the
// input is: src_index with every entry in [0, I) when by_index, else src.
void check_sequence_args(std::int64_t I, std::int64_t T, std::int64_t N, const float* params,
                         const float* src, bool by_index, const std::int32_t* src_index,
                         const float* dst, const char* what);

}  // namespace charnn_cells
