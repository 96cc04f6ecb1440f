// The plain one-step path: the pre-activations of one step, gates = x . w_x + h . w_h + b, from
// the host's f32 parameters as they are (no copy). step() uses it when nothing is prepared, and
// trace() for every step of its sequence. See prepared_step.hpp for the sampling fast path.
//
// Parameter layout (the flat buffer the host gives the cell), G gates, I input width, H hidden:
//   w_x (I, G*H) row-major, then w_h (H, G*H), then b (G*H). Because w_x and w_h sit back to
//   back, params[0 : (I+H)*G*H] is also the (I+H, G*H) matrix [w_x; w_h]: for many streams the
//   dense input is one matmul on [x, h].
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "onednn_support.hpp"

namespace charnn_cells {

class StepGates {
 public:
  StepGates(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates);

  // The (N, G*H) pre-activations of one step for N streams, from dense x (N, I) or the one-hot
  // indices src_index (N), and state h (N, H). The buffer is the instance's, valid until the
  // next call with the same N; the caller may overwrite it.
  float* run(std::int64_t N, const float* params, const float* src, const std::int32_t* src_index,
             const float* state);

 private:
  // Everything for N streams. Primitives exist only for N > kSmallN.
  struct Plan {
    memory xh, w_xh, w_h, h, bias, gates_m;
    Prepared mm_xh;             // gates = [x, h] . [w_x; w_h] + b
    Prepared mm_h;              // gates = h . w_h + b (then w_x rows are gathered in)
    std::vector<float> xh_buf;  // (N, I + H)
    std::vector<float> gates;   // (N, G*H)
  };
  Plan& plan(std::int64_t N);
  void run_small(Plan& pl, std::int64_t N, const float* params, const float* src,
                 const std::int32_t* src_index, const float* state);

  // Up to this many streams the one-step path uses small_gemm_acc (weights streamed once, one
  // thread); beyond it oneDNN's matmul, whose blocking pays off for real batches.
  static constexpr std::int64_t kSmallN = 8;

  const std::int64_t I_, H_, GH_;
  dnnl::stream stream_;
  std::map<std::int64_t, std::unique_ptr<Plan>> plans_;
};

}  // namespace charnn_cells
