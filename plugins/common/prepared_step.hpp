// The prepared one-step path (plugin ABI 1.1, prepare_step), for sampling: the weights are
// copied once into the layout oneDNN's matmul picks for them (format_tag::any, a blocked layout
// its brgemm kernels stream fastest), optionally rounded to bfloat16 or quantised to int8, which
// cuts the bytes read per step: the one-stream step is bound by streaming the weights from
// cache. Each step is then one matmul per layer on the prepared copy. See bench/RESULTS.md,
// "prepared one-step path". Parameter layout as in step_gates.hpp.
//
// Per stream count and input kind:
//   one-hot (src_index): gates = b + w_x[id] (gathered, f32) then += h . w_h   (K = H)
//   dense (src):         gates = [x, h] . [w_x; w_h] + b                       (K = I + H)
#pragma once

#include <charnn/onednn_compat.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "onednn_support.hpp"

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
  struct Plan {
    Prepared mm;                // the matmul on the prepared weights
    memory src;                 // (N, K) in the prepared precision, owned: h or [x, h]
    std::shared_ptr<memory> w;  // (K, G*H) prepared weights, shared by plans of one layout
    memory bias, gates_m;       // (1, G*H) b (dense f32/bf16 only); gates or acc (N, G*H)
    std::vector<charnn::onednn::ExecArg> scale_args;  // int8 on oneDNN 3: the column scales
    std::int64_t K = 0;
    std::vector<float> gates;  // (N, G*H)
    // int8 only: the matmul writes w_scale[j] * (x_q . w_q)[j] into acc (N, G*H), and gates +=
    // x_scale[n] * acc (no bias in the primitive: oneDNN 2.6 would scale it too).
    std::vector<float> acc;      // (N, G*H)
    std::vector<float> x_scale;  // (N) this step's input scale per stream: max |x| / 127
  };

  Plan& plan(std::int64_t N, bool dense);
  dnnl::primitive_attr plan_attr(Plan& pp, std::int64_t N, bool dense,
                                 std::vector<std::int8_t>& w_q);
  void load_weights(Plan& pp, const memory::desc& w_md, const std::vector<std::int8_t>& w_q);
  void make_bias_rows();
  void set_input_scales(Plan& pp, std::int64_t N, const float* src, const std::int32_t* src_index,
                        const float* state) const;
  void put_src(const Plan& pp, std::int64_t row, std::int64_t col, const float* from,
               std::int64_t n) const;
  void apply_input_scales(Plan& pp, std::int64_t N) const;

  const std::int64_t I_, H_, GH_;
  dnnl::stream stream_;
  // By (N, dense input?, OpenMP threads): oneDNN fixes a matmul's split over threads when it is
  // created, so a host that switches the thread count between steps (the sampler's tuning) gets
  // a matmul made for each count.
  std::map<std::tuple<std::int64_t, bool, int>, std::unique_ptr<Plan>> plans_;
  // The host's params the copies are made from (NULL: nothing prepared), their precision, and
  // the prepared weight copies by layout (one per oneDNN weights format and K).
  const float* params_ = nullptr;
  dt dt_ = dt::f32;
  std::vector<std::pair<memory::desc, std::shared_ptr<memory>>> weights_;
  std::vector<float> b_;   // (G*H) b
  std::vector<float> xb_;  // (I, G*H) w_x + b row by row: the one-hot input's gates before h
};

}  // namespace charnn_cells
