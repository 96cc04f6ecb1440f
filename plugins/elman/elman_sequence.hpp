// The Elman cell's sequence passes (forward, for training or not, and backward) on oneDNN's
// vanilla_rnn primitive (one layer, one direction, tanh), in float32 or with bfloat16 products.
// Primitives and memory objects are cached per (T, N, training) so that nothing is created or
// allocated after the first call with a shape.
//
// Parameter layout (the host's flat buffer): w_x (I, H), w_h (H, H), b (H), which are oneDNN's
// ldigo weights and ldgo bias with L = D = G = 1. forward reads them in place. oneDNN's backward
// wants ldgoi weights, so backward reorders w_x and w_h once per call into buffers this instance
// owns (made with the first training plan); its weight gradients are in ldigo and oneDNN adds
// them straight into the host's diff_params (the ABI's accumulate semantics). Plain tags
// throughout: format_tag::any picks padded strides, which would need reorders of every host
// buffer and measured no faster here (T=50, N=50, H=512).
#pragma once

#include <charnn/onednn_compat.hpp>
#include <charnn/plugin.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "onednn_support.hpp"

namespace charnn_cells {

class ElmanSequence {
 public:
  ElmanSequence(std::int64_t input_size, std::int64_t hidden_size);

  // Training plans are built for one precision; inference plans are always f32.
  void set_bf16(bool bf16);
  void forward(const charnn_forward_args& a);
  void backward(const charnn_backward_args& a);

 private:
  // Everything for one (T, N) and one propagation kind.
  struct Plan {
    memory src_layer, src_iter, w_layer, w_iter, bias, dst_layer, dst_iter, workspace;
    struct {
      memory src_layer, src_iter, w_layer, w_iter, dst_layer, dst_iter;
    } diff;  // the gradients, views of the host's f32 buffers (training only)
    memory diff_bias;
    Prepared fwd, bwd;
    // bfloat16 training plan: src_layer, src_iter, w_layer, w_iter, dst_layer and dst_iter above
    // are owned bf16 buffers, filled from / copied to the host's f32 buffers by these reorders.
    bool bf16 = false;
    memory src_f, h_in_f, dst_f, h_out_f;  // f32 views of the host's src, h_in, dst, h_out
    Prepared cvt_w_layer, cvt_w_iter, cvt_src, cvt_h_in, cvt_dst, cvt_h_out;
    std::vector<float> zeros;           // (N, H): state_in / diff_state_out when NULL
    std::vector<float> state_out;       // (N, H): dst_iter, read back by backward
    std::vector<float> scratch_src;     // (T, N, I): diff_src when the host passes NULL
    std::vector<float> scratch_state;   // (N, H): diff_state_in when the host passes NULL
    std::vector<float> state_in;        // (N, H): training forward's initial state
    std::vector<float> diff_state_out;  // (N, H): copy of the host's diff_state_out
  };
  using Descs = charnn::onednn::VanillaRnnDescs;
  using DiffDescs = charnn::onednn::VanillaRnnDiffDescs;

  Plan& plan(std::int64_t T, std::int64_t N, bool training);
  template <class Target, class D, class Make>
  static void set_operands(Target& o, const D& d, Make make);
  void own_bf16_operands(Plan& pl, const Descs& d);
  void wrap_f32_operands(Plan& pl, const Descs& d, bool training);
  void make_forward(Plan& pl, const dnnl::vanilla_rnn_forward::primitive_desc& fpd, bool training);
  void make_backward(Plan& pl, const Descs& d, const DiffDescs& g,
                     const dnnl::vanilla_rnn_forward::primitive_desc& fpd);
  void bind_forward(Plan& pl, const float* params, const float* src, const float* state_in,
                    float* dst);

  const std::int64_t I_, H_;
  dnnl::stream stream_;
  // Forward-layout views of the host's weights, rebound per call: w_x (1, 1, I, 1, H) and
  // w_h (1, 1, H, 1, H), ldigo.
  memory w_layer_f_, w_iter_f_;
  // Backward's ldgoi weights (f32 and bf16), made with the first training plan of each.
  memory w_layer_b_, w_iter_b_, w_layer_bb_, w_iter_bb_;
  Prepared reorder_layer_, reorder_iter_, reorder_layer_bf_, reorder_iter_bf_;
  bool train_bf16_ = false;
  std::map<std::tuple<std::int64_t, std::int64_t, bool>, std::unique_ptr<Plan>> plans_;
  Plan* trained_ = nullptr;  // the plan of the last training forward
  std::int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace charnn_cells
