// The built-in Elman cell (one tanh RNN layer). Sequences run on oneDNN's vanilla_rnn primitive
// (elman_sequence.cpp), and so do traces; the one-step path is the shared one
// (common/rnn_cell.hpp).
//
//   h' = tanh(x W_x + h W_h + b)
//
// State: h. Traced signal: h, (T, N, H).
#include <algorithm>
#include <cstring>

#include "elman_sequence.hpp"
#include "fast_math.hpp"
#include "rnn_cell.hpp"

namespace charnn_cells {

class ElmanCell final : public RnnCell {
 public:
  ElmanCell(std::int64_t input_size, std::int64_t hidden_size)
      : RnnCell(input_size, hidden_size, 1, 1), sequence_(input_size, hidden_size) {}

  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h"}; }

 protected:
  void sequence_forward(const charnn_forward_args& a) override { sequence_.forward(a); }
  void sequence_backward(const charnn_backward_args& a) override { sequence_.backward(a); }
  bool sequence_trace(const charnn_trace_args& a) override {
    sequence_.forward(inference_args(a));
    std::memcpy(a.signals, a.dst, static_cast<std::size_t>(a.T * a.N * H_) * sizeof(float));
    return true;  // the one signal is h
  }
  void train_bf16(bool bf16) override { sequence_.set_bf16(bf16); }

  void bias_init(float* b) const override { std::fill(b, b + H_, 0.0f); }  // b (H)

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
  ElmanSequence sequence_;
};

}  // namespace charnn_cells

CHARNN_DECLARE_CELL(charnn_cells::ElmanCell, "elman", "1.0.0",
                    "Elman RNN layer, h' = tanh(x W_x + h W_h + b), on oneDNN's vanilla_rnn")
