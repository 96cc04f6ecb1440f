// The built-in GRU cell (one layer), in PyTorch's and cuDNN's form (reset gate after the
// recurrent product), so that weights map one to one (see gru_sequence.hpp for the mapping):
//
//   r = sigmoid(x W_x[:,0] + b_x[0] + h W_h[:,0] + b_h[0])       reset gate
//   z = sigmoid(x W_x[:,1] + b_x[1] + h W_h[:,1] + b_h[1])       update gate
//   n = tanh   (x W_x[:,2] + b_x[2] + r * (h W_h[:,2] + b_h[2])) candidate
//   h' = (1 - z) * n + z * h
//
// Sequences (training, validation, tracing) run on the matmul passes of gru_sequence.hpp; one
// step is a sequence of one, or, once the host prepares the weights (sampling), the prepared
// f32/bf16/int8 path of gru_prepared_step.hpp. State: h. Traced signals: h, r, z, n.
#include <charnn/random.hpp>

#include <algorithm>
#include <cmath>

#include "gru_prepared_step.hpp"
#include "gru_sequence.hpp"
#include "onednn_support.hpp"
#include "sequence_args.hpp"

namespace charnn_cells {

class GruCell final : public charnn::plugin::Cell {
 public:
  // The highest peak rate --lr auto gives a model of GRUs (plugin ABI 1.3). 2x512 with Adam at a
  // constant rate after the warm-up, 1,400 iterations of 32 x 64 (validation on 50,000 units):
  // War and Peace 1e-2 -> 1.477 at 700, then 1.625 at 1,400; 5e-3 -> 1.318; 2.5e-3 -> 1.286.
  // Fortunes 1e-2 diverged (3.10); 5e-3 -> 1.645; 2.5e-3 -> 1.608. The LSTM trains well at 2e-2.
  static constexpr double kMaxLearningRate = 2.5e-3;
  // Where --dropout auto starts (ABI 1.4). Trained at that rate the GRU overfits far sooner than
  // the LSTM at 2e-2: 10 minutes on the C headers (exposure 14.5) ended 1.0812 on the whole
  // validation split without dropout and 1.0257 with 0.2; Thai (682) 2.7930 with 0.35 and 2.7428
  // with 0.5; War and Peace (7.5) 1.1404 without, 1.1394 with 0.1, 1.1449 with 0.2.
  static constexpr double kDropoutExposure = 8;

  GruCell(std::int64_t input_size, std::int64_t hidden_size)
      : I_(input_size),
        H_(hidden_size),
        trainer_(input_size, hidden_size, true),
        inference_(input_size, hidden_size, false),
        prepared_(input_size, hidden_size) {}

  std::vector<charnn_tensor_info> params() const override {
    return {
        {"w_x", 3, {I_, 3, H_}}, {"w_h", 3, {H_, 3, H_}}, {"b_x", 2, {3, H_}}, {"b_h", 2, {3, H_}}};
  }
  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h", "r", "z", "n"}; }

  // Weights uniform(-1/sqrt(H), 1/sqrt(H)), the fan-in rule PyTorch also uses; biases 0.
  void init_params(float* p, std::uint64_t seed) const override {
    charnn::SplitMix64 rng(seed);
    const float a = 1.0f / std::sqrt(static_cast<float>(H_));
    const std::int64_t nw = (I_ + H_) * 3 * H_;
    for (std::int64_t k = 0; k < nw; ++k) p[k] = rng.uniform_sym(a);
    std::fill(p + nw, p + nw + 6 * H_, 0.0f);
  }

  void forward(const charnn_forward_args& args) override {
    const charnn_forward_args a = known_fields(args, index_input_);
    check_sequence_args(I_, a.T, a.N, a.params, a.src, index_input_, a.src_index, a.dst, "forward");
    backend_guard("forward", [&] { (a.training ? trainer_ : inference_).forward(a); });
  }

  void backward(const charnn_backward_args& args) override {
    const charnn_backward_args a = known_fields(args, index_input_);
    check_sequence_args(I_, a.T, a.N, a.params, a.src, index_input_, a.src_index, a.dst,
                        "backward");
    if (!a.diff_dst || !a.diff_params)
      throw Error(CHARNN_ERR_ARGUMENT, "backward: diff_dst and diff_params are required");
    if (index_input_ && a.diff_src)
      throw Error(CHARNN_ERR_ARGUMENT, "backward: no diff_src for an input given by index");
    backend_guard("backward", [&] { trainer_.backward(a); });
  }

  // One step: src_index (always allowed here) or src, state in place. On prepared weights the
  // prepared path, else a sequence of one.
  void step(const charnn_step_args& a) override {
    if (a.N < 1 || !a.params || !a.state || !a.dst || (!a.src && !a.src_index))
      throw Error(CHARNN_ERR_ARGUMENT,
                  "step: N >= 1 and params, state, dst and src (or src_index) are required");
    if (a.src_index)
      check_sequence_args(I_, 1, a.N, a.params, nullptr, true, a.src_index, a.dst, "step");
    if (prepared_.holds(a.params)) {
      backend_guard("step", [&] {
        prepared_.step(a.N, a.src_index ? nullptr : a.src, a.src_index, a.state, a.dst);
      });
      return;
    }
    charnn_forward_args f{};
    f.T = 1;
    f.N = a.N;
    f.params = a.params;
    f.src = a.src_index ? nullptr : a.src;
    f.src_index = a.src_index;
    f.state_in = a.state;
    f.dst = a.dst;
    f.state_out = a.state;
    backend_guard("step", [&] { inference_.forward(f); });
  }

  void prepare_step(const float* params, charnn_precision precision) override {
    backend_guard("prepare_step", [&] { prepared_.prepare(params, precision); });
  }

  void trace(const charnn_trace_args& args) override {
    const charnn_trace_args a = known_fields(args, trace_index_input_);
    check_sequence_args(I_, a.T, a.N, a.params, a.src, trace_index_input_, a.src_index, a.dst,
                        "trace");
    if (!a.signals) throw Error(CHARNN_ERR_ARGUMENT, "trace: signals is required");
    backend_guard("trace", [&] { inference_.forward(inference_args(a), a.signals); });
  }

  // bf16 products where this CPU runs them natively (see onednn_support.hpp).
  void set_train_precision(charnn_precision precision) override {
    const bool bf = precision == CHARNN_PRECISION_BF16;
    if (bf) require_native_bf16("set_train_precision");
    trainer_.set_bf16(bf);
  }

  void set_index_input(bool enable) override { index_input_ = enable; }
  void set_trace_index_input(bool enable) override { trace_index_input_ = enable; }

 private:
  const std::int64_t I_, H_;
  bool index_input_ = false, trace_index_input_ = false;
  GruSequence trainer_;
  GruSequence inference_;  // always f32, forward only
  GruPreparedStep prepared_;
};

}  // namespace charnn_cells

CHARNN_DECLARE_CELL(charnn_cells::GruCell, "gru", "1.0.0",
                    "GRU layer (gates r, z, n as PyTorch and cuDNN; state h) on oneDNN matmul "
                    "primitives")
