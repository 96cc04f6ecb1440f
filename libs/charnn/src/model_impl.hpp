// What model.cpp and model_step.cpp share: the model's scratch buffers and oneDNN objects
// (Model::Impl), and the id check. Internal to the library.
#pragma once

#include "charnn/model.hpp"
#include "output_layer.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace charnn {

// Buffers for one (T, N) shape of a sequence pass (training or evaluation).
struct detail::SequenceBuffers {
  std::int64_t T = 0, N = 0;
  std::vector<float> x0;                     // (T, N, V) one-hot input of layer 0, or empty
  const std::int32_t* x0_index = nullptr;    // (T, N) the same as ids, when layer 0 takes them
  std::vector<std::vector<float>> dst;       // [l] (T, N, H) what layer l wrote
  std::vector<std::vector<float>> dropped;   // [l] (T, N, H) dropout(dst[l]): input of l+1 / out
  std::vector<std::vector<float>> mask;      // [l] (T, N, H) 0 or 1/(1-p), training only
  std::vector<std::vector<float>> state_in;  // [l] (S_l, N, H) the state the segment began with
  std::vector<float> logits;                 // (T*N, V), then d(loss)/d(logits) in place
  std::vector<float> ddst, dsrc;             // (T, N, H) gradient w.r.t. a layer's dst / src
  // weight_drop: [l] the layer's parameters with w_h masked, and the mask (0 or 1/(1-p)) of w_h.
  std::vector<std::vector<float>> dropped_params, weight_mask;
};

struct Model::Impl {
  detail::OutputLayer out;
  detail::SequenceBuffers train, eval, advance, score;  // score: trace() without signals
  // step(): (N, H) per layer.
  std::int64_t step_N = 0;
  std::vector<std::vector<float>> step_dst;  // [l] (N, H)
  // trace(): the buffers of one (T, N).
  std::int64_t trace_T = 0, trace_N = 0;
  std::vector<float> trace_x0;                    // (T, N, V); empty when traced by index
  std::vector<std::vector<float>> trace_dst;      // [l] (T, N, H)
  std::vector<std::vector<float>> trace_signals;  // [l] (K_l, T, N, H)
  std::vector<std::vector<float>> trace_state;    // [l] (S_l, N, H) state_out before copy-back
  std::vector<float> trace_logits;                // (T, N, V)
  TraceOutput trace_out;

  Impl(std::int64_t H, std::int64_t V) : out(H, V) {}
};

namespace detail {
// Throws charnn::error naming `what` when an id lies outside [0, V).
void check_ids(std::span<const std::int32_t> ids, std::int64_t V, const char* what);
}  // namespace detail

}  // namespace charnn
