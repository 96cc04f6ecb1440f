// The built-in Elman cell (one tanh RNN layer), on oneDNN's vanilla_rnn primitive.
//
//   h' = tanh(x W_x + h W_h + b)
//
// State: h. Traced signal: h, (T, N, H).
#include "onednn_rnn_cell.hpp"

namespace charnn_cells {

class ElmanCell final : public OnednnRnnCell {
 public:
  ElmanCell(std::int64_t input_size, std::int64_t hidden_size)
      : OnednnRnnCell(input_size, hidden_size, 1, 1) {}

  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h"}; }

 protected:
  void bias_init(float* b) const override { std::fill(b, b + H_, 0.0f); }  // b (H)

  dnnl::primitive_desc make_forward_pd(dnnl::prop_kind prop, const SeqDescs& d) override {
    dnnl::vanilla_rnn_forward::desc fd(
        prop, dnnl::algorithm::eltwise_tanh, dnnl::rnn_direction::unidirectional_left2right,
        d.src_layer, d.src_iter, d.w_layer, d.w_iter, d.bias, d.dst_layer, d.dst_iter);
    fwd_pd_ = dnnl::vanilla_rnn_forward::primitive_desc(fd, cpu_engine());
    return fwd_pd_;
  }

  dnnl::primitive_desc make_backward_pd(const SeqDescs& d) override {
    // Backward wants ldgoi weights; the weight gradients stay in the forward layout (ldigo)
    // and accumulate straight into the host's diff_params.
    dnnl::vanilla_rnn_backward::desc bd(dnnl::prop_kind::backward, dnnl::algorithm::eltwise_tanh,
                                        dnnl::rnn_direction::unidirectional_left2right, d.src_layer,
                                        d.src_iter, d.w_layer_b, d.w_iter_b, d.bias, d.dst_layer,
                                        d.dst_iter, d.diff_src_layer, d.diff_iter, d.diff_w_layer,
                                        d.diff_w_iter, d.bias, d.diff_dst_layer, d.diff_iter);
    return dnnl::vanilla_rnn_backward::primitive_desc(bd, cpu_engine(), fwd_pd_);
  }

  void pointwise(float* gates, float* state, float* dst, std::int64_t N, float* signals,
                 std::int64_t /*stride*/) const override {
    const std::int64_t NH = N * H_;
    for (std::int64_t k = 0; k < NH; ++k) {
      const float h = fast_tanh(gates[k]);
      state[k] = h;
      dst[k] = h;
    }
    if (signals) std::memcpy(signals, dst, NH * sizeof(float));
  }

 private:
  dnnl::vanilla_rnn_forward::primitive_desc fwd_pd_;  // the hint the backward descriptor needs
};

}  // namespace charnn_cells

CHARNN_DECLARE_CELL(charnn_cells::ElmanCell, "elman", "1.0.0",
                    "Elman RNN layer, h' = tanh(x W_x + h W_h + b), on oneDNN's vanilla_rnn")
