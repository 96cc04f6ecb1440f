// The prepared one-step path of the LSTM and Elman cells (plugin ABI 1.1, prepare_step): the
// pre-activations of one step from prepared copies of the weights (prepared_product.hpp, f32,
// bf16 or int8), for sampling. Parameter layout as in step_gates.hpp.
//
// Per input kind:
//   one-hot (src_index): gates = b + w_x[id] (gathered, f32) then += h . w_h   (K = H)
//   dense (src):         gates = b, then += [x, h] . [w_x; w_h]                 (K = I + H)
#pragma once

#include <cstdint>
#include <vector>

#include "prepared_product.hpp"

namespace charnn_cells {

class PreparedStep {
 public:
  PreparedStep(std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates);

  // Drops any prepared copy, then (params not NULL) checks that this CPU runs the precision
  // natively and that int8 can represent the weights, and remembers params. The copies are made
  // on the first run() of each stream count and input kind, since their layout depends on both.
  void prepare(const float* params, charnn_precision precision);
  // Whether run() serves a step on these parameters.
  bool holds(const float* params) const { return params_ && params == params_; }

  // The (N, G*H) pre-activations of one step, as StepGates::run computes them, on the prepared
  // copy. The buffer is the instance's; the caller may overwrite it.
  float* run(std::int64_t N, const float* src, const std::int32_t* src_index, const float* state);

 private:
  const std::int64_t I_, H_, GH_;
  PreparedProduct xh_;  // [w_x; w_h]: dense input
  PreparedProduct h_;   // w_h: one-hot input, after the row of w_x + b
  const float* params_ = nullptr;  // the host's params the copies are made from
  // f32 copies of what the step reads besides the matrices (the contract allows reading the
  // host's buffer, but a copy keeps "prepared" meaning one thing for all of it).
  std::vector<float> b_;      // (G*H) b
  std::vector<float> xb_;     // (I, G*H) w_x + b row by row: the one-hot input's gates before h
  std::vector<float> gates_;  // (N, G*H)
};

}  // namespace charnn_cells
