// The built-in LSTM cell (one layer). Sequences (training, validation, eval) run on oneDNN matmul
// primitives in lstm_sequence.hpp, not on oneDNN's lstm primitive (faster; see there); the
// one-step path is the shared one (common/rnn_cell.hpp); a trace is the inference sequence that
// also keeps its signals.
//
//   i = sigmoid(x W_x[:,0] + h W_h[:,0] + b[0])     input gate
//   f = sigmoid(x W_x[:,1] + h W_h[:,1] + b[1])     forget gate
//   g = tanh   (x W_x[:,2] + h W_h[:,2] + b[2])     candidate (oneDNN's c~)
//   o = sigmoid(x W_x[:,3] + h W_h[:,3] + b[3])     output gate
//   c' = f * c + i * g,   h' = o * tanh(c')
//
// The gate axis follows oneDNN's order i, f, g, o. States: h, c. Traced signals: h, c, i, f,
// o, g, each (T, N, H).
#include <algorithm>
#include <cstring>

#include "lstm_sequence.hpp"
#include "lstm_unit.hpp"
#include "rnn_cell.hpp"
#include "vector_loops.hpp"

namespace charnn_cells {

class LstmCell final : public RnnCell {
 public:
  LstmCell(std::int64_t input_size, std::int64_t hidden_size)
      : RnnCell(input_size, hidden_size, 4, 2),
        trainer_(input_size, hidden_size, true),
        inference_(input_size, hidden_size, false) {}

  std::vector<const char*> states() const override { return {"h", "c"}; }
  std::vector<const char*> signals() const override { return {"h", "c", "i", "f", "o", "g"}; }

 protected:
  void sequence_forward(const charnn_forward_args& a) override {
    (a.training ? trainer_ : inference_).forward(a);
  }
  void sequence_backward(const charnn_backward_args& a) override { trainer_.backward(a); }
  bool sequence_trace(const charnn_trace_args& a) override {
    inference_.forward(inference_args(a), a.signals);
    return true;
  }
  void train_bf16(bool bf16) override { trainer_.set_bf16(bf16); }
  bool index_sequences(bool) override { return true; }  // both read a.src_index when it is set
  bool trace_sequence_by_index() const override { return true; }  // inference_ reads it too

  void bias_init(float* b) const override {
    // b (4, H): zero except the forget gate, which starts at 1 so that early in training the
    // cell keeps its state and gradients flow back through time (Jozefowicz et al., 2015).
    std::fill(b, b + 4 * H_, 0.0f);
    std::fill(b + H_, b + 2 * H_, 1.0f);
  }

  void pointwise(float* gates, float* state, float* dst, std::int64_t N, float* signals,
                 std::int64_t stride) const override {
    const std::int64_t H = H_;
    for (std::int64_t n = 0; n < N; ++n) {
      const float* g = gates + n * 4 * H;  // (4, H) for stream n
      float* h = state + n * H;            // state 0: (N, H)
      float* c = state + (N + n) * H;      // state 1: (N, H)
      if (!signals) {
        lstm_row(g, g + H, g + 2 * H, g + 3 * H, h, c, dst + n * H, H);
      } else {
        // Signals in signal_name order: h, c, i, f, o, g.
        float* s = signals + n * H;
        lstm_row_traced(g, g + H, g + 2 * H, g + 3 * H, c, s, s + stride, s + 2 * stride,
                        s + 3 * stride, s + 4 * stride, s + 5 * stride, H);
        const std::size_t bytes = static_cast<std::size_t>(H) * sizeof(float);
        std::memcpy(c, s + stride, bytes);
        std::memcpy(h, s, bytes);
        std::memcpy(dst + n * H, s, bytes);
      }
    }
  }

 private:
  // One stream's update. Separate functions with restrict-qualified parameters so that GCC
  // knows the buffers do not overlap and vectorises the loops. lstm_row is the sampling hot path
  // (4H exp per step and layer): built for AVX-512 and AVX2 too, picked once at load time by the
  // CPU (15% of a one-stream int8 step at the baseline SSE2 width). Results may differ between
  // CPUs in the last bits (FMA), never between runs or thread counts on one machine.
  CHARNN_CELL_CLONES static void lstm_row(
      const float* __restrict ai, const float* __restrict af, const float* __restrict ag,
      const float* __restrict ao, float* __restrict h, float* __restrict c, float* __restrict out,
      std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
      const LstmUnit u = lstm_unit(ai[j], af[j], ag[j], ao[j], c[j]);
      c[j] = u.c;
      h[j] = u.h;
      out[j] = u.h;
    }
  }
  // The traced update writes the signals only; the caller takes the new h and c from sh and sc.
  static void lstm_row_traced(const float* __restrict ai, const float* __restrict af,
                              const float* __restrict ag, const float* __restrict ao,
                              const float* __restrict c_prev, float* __restrict sh,
                              float* __restrict sc, float* __restrict si, float* __restrict sf,
                              float* __restrict so, float* __restrict sg, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
      const LstmUnit u = lstm_unit(ai[j], af[j], ag[j], ao[j], c_prev[j]);
      sh[j] = u.h;
      sc[j] = u.c;
      si[j] = u.i;
      sf[j] = u.f;
      so[j] = u.o;
      sg[j] = u.g;
    }
  }

  LstmSequence trainer_;
  LstmSequence inference_;  // always f32, forward only
};

}  // namespace charnn_cells

CHARNN_DECLARE_CELL(charnn_cells::LstmCell, "lstm", "1.0.0",
                    "LSTM layer (gates i, f, g, o; states h, c) on oneDNN matmul primitives")
