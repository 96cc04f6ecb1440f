// leaky_tanh: an example cell plugin, written against nothing but <charnn/plugin.hpp>.
//
// A leaky-integrator RNN: each unit moves only part of the way towards its new tanh value, so it
// keeps a memory of its past even without gates.
//   u_t = tanh(x_t W_x + h_{t-1} W_h + b)          candidate, (N, H)
//   h_t = (1 - a) h_{t-1} + a u_t                  a = kLeak, fixed
// Parameters: w_x (I, H), w_h (H, H), b (H), back to back in that order in the flat buffer.
// State: h (N, H). Trace signals: h and u.
//
// Plain loops keep the example readable; a production cell would hand the matrix products to a
// BLAS or oneDNN. docs/writing-a-cell.md walks through this file.
#include <charnn/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using charnn::plugin::Error;

constexpr float kLeak = 0.5f;  // a: how far h moves towards u in one step

class LeakyTanhCell final : public charnn::plugin::Cell {
 public:
  LeakyTanhCell(int64_t input_size, int64_t hidden_size)
      : I_(input_size), H_(hidden_size), a_(static_cast<size_t>(hidden_size)) {}

  // ---- description: what the host allocates for us -------------------------------------------
  std::vector<charnn_tensor_info> params() const override {
    return {{"w_x", 2, {I_, H_, 0, 0}}, {"w_h", 2, {H_, H_, 0, 0}}, {"b", 1, {H_, 0, 0, 0}}};
  }
  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h", "u"}; }

  // Weights uniform in +-1/sqrt(H) from a splitmix64 stream (same seed, same values on every
  // machine); biases zero.
  void init_params(float* params, uint64_t seed) const override {
    const float scale = 1.0f / std::sqrt(static_cast<float>(H_));
    const int64_t n_weights = I_ * H_ + H_ * H_;
    uint64_t s = seed;
    for (int64_t k = 0; k < n_weights; ++k) {
      uint64_t z = (s += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
      params[k] = static_cast<float>((2.0 * unit - 1.0) * scale);
    }
    for (int64_t j = 0; j < H_; ++j) params[n_weights + j] = 0.0f;
  }

  // ---- training ------------------------------------------------------------------------------
  void forward(const charnn_forward_args& args) override {
    run(args.T, args.N, args.params, args.src, args.state_in, args.dst, args.state_out, nullptr);
    // backward needs u_t, which run() left in u_; remember which problem it belongs to.
    trained_T_ = args.training ? args.T : 0;
    trained_N_ = args.training ? args.N : 0;
  }

  void backward(const charnn_backward_args& args) override {
    const int64_t T = args.T, N = args.N, I = I_, H = H_;
    if (T != trained_T_ || N != trained_N_)
      throw Error(CHARNN_ERR_STATE, "backward needs a training forward with the same T and N");
    const Weights w = view(args.params);
    float* dw_x = args.diff_params;                   // (I, H), accumulated into
    float* dw_h = dw_x + I * H;                       // (H, H)
    float* db = dw_h + H * H;                         // (H)
    carry_.assign(static_cast<size_t>(N * H), 0.0f);  // (N, H) dL/dh_t arriving from step t+1
    if (args.diff_state_out) carry_.assign(args.diff_state_out, args.diff_state_out + N * H);
    da_.resize(static_cast<size_t>(N * H));  // (N, H) dL/d(pre-activation) at step t

    for (int64_t t = T - 1; t >= 0; --t) {
      const float* x = args.src + t * N * I;                                     // (N, I)
      const float* u = u_.data() + t * N * H;                                    // (N, H)
      const float* h_prev = t > 0 ? args.dst + (t - 1) * N * H : args.state_in;  // (N, H)|NULL
      const float* dh_out = args.diff_dst + t * N * H;                           // (N, H)
      for (int64_t k = 0; k < N * H; ++k) {
        const float dh = dh_out[k] + carry_[k];      // total dL/dh_t
        da_[k] = dh * kLeak * (1.0f - u[k] * u[k]);  // through h = .. + a tanh(pre)
        carry_[k] = (1.0f - kLeak) * dh;             // the leak path to h_{t-1}
      }
      for (int64_t n = 0; n < N; ++n) {
        const float* da = da_.data() + n * H;
        for (int64_t j = 0; j < H; ++j) db[j] += da[j];
        for (int64_t i = 0; i < I; ++i) {
          const float xi = x[n * I + i];
          float dx = 0.0f;
          for (int64_t j = 0; j < H; ++j) {
            dw_x[i * H + j] += xi * da[j];
            dx += w.x[i * H + j] * da[j];
          }
          if (args.diff_src) args.diff_src[(t * N + n) * I + i] = dx;
        }
        for (int64_t k = 0; k < H; ++k) {
          const float hk = h_prev ? h_prev[n * H + k] : 0.0f;
          float dh_prev = 0.0f;
          for (int64_t j = 0; j < H; ++j) {
            dw_h[k * H + j] += hk * da[j];
            dh_prev += w.h[k * H + j] * da[j];
          }
          carry_[n * H + k] += dh_prev;  // the recurrent path to h_{t-1}
        }
      }
    }
    if (args.diff_state_in)
      for (int64_t k = 0; k < N * H; ++k) args.diff_state_in[k] = carry_[k];
  }

  // ---- inference -----------------------------------------------------------------------------
  // One step for sampling: the state is read and updated in place; nothing is kept.
  void step(const charnn_step_args& args) override {
    const Weights w = view(args.params);
    for (int64_t n = 0; n < args.N; ++n) {
      float* h = args.state + n * H_;  // (H)
      if (args.src_index) {            // one-hot input: x W_x is row `col` of W_x
        const int32_t col = args.src_index[n];
        if (col < 0 || col >= I_) throw Error(CHARNN_ERR_ARGUMENT, "src_index out of range");
        for (int64_t j = 0; j < H_; ++j) a_[j] = w.b[j] + w.x[col * H_ + j];
      } else {
        pre_input(w, args.src + n * I_, a_.data());
      }
      pre_recurrent(w, h, a_.data());
      for (int64_t j = 0; j < H_; ++j) {
        h[j] = (1.0f - kLeak) * h[j] + kLeak * std::tanh(a_[j]);
        args.dst[n * H_ + j] = h[j];
      }
    }
  }

  void trace(const charnn_trace_args& args) override {
    run(args.T, args.N, args.params, args.src, args.state_in, args.dst, args.state_out,
        args.signals);
  }

 private:
  struct Weights {
    const float* x;  // (I, H)
    const float* h;  // (H, H)
    const float* b;  // (H)
  };
  Weights view(const float* params) const {
    return {params, params + I_ * H_, params + I_ * H_ + H_ * H_};
  }

  // out (H) = b + x W_x, for one stream's x (I).
  void pre_input(const Weights& w, const float* x, float* out) const {
    for (int64_t j = 0; j < H_; ++j) out[j] = w.b[j];
    for (int64_t i = 0; i < I_; ++i)
      for (int64_t j = 0; j < H_; ++j) out[j] += x[i] * w.x[i * H_ + j];
  }
  // out (H) += h W_h, for one stream's h (H).
  void pre_recurrent(const Weights& w, const float* h, float* out) const {
    for (int64_t k = 0; k < H_; ++k)
      for (int64_t j = 0; j < H_; ++j) out[j] += h[k] * w.h[k * H_ + j];
  }

  // The sequence loop shared by forward and trace. Leaves u_t in u_ (T, N, H) for backward;
  // signals, when given, is (2, T, N, H): h then u.
  void run(int64_t T, int64_t N, const float* params, const float* src, const float* state_in,
           float* dst, float* state_out, float* signals) {
    const Weights w = view(params);
    u_.resize(static_cast<size_t>(T * N * H_));  // grows once per larger shape, then reused
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) {
        const float* h_prev = t > 0 ? dst + ((t - 1) * N + n) * H_
                                    : (state_in ? state_in + n * H_ : nullptr);  // NULL: zeros
        float* u = u_.data() + (t * N + n) * H_;
        float* h = dst + (t * N + n) * H_;
        pre_input(w, src + (t * N + n) * I_, u);
        if (h_prev) pre_recurrent(w, h_prev, u);
        for (int64_t j = 0; j < H_; ++j) {
          u[j] = std::tanh(u[j]);
          h[j] = (h_prev ? (1.0f - kLeak) * h_prev[j] : 0.0f) + kLeak * u[j];
        }
      }
    }
    if (state_out)
      for (int64_t k = 0; k < N * H_; ++k) state_out[k] = dst[(T - 1) * N * H_ + k];
    if (signals) {
      for (int64_t k = 0; k < T * N * H_; ++k) {
        signals[k] = dst[k];
        signals[T * N * H_ + k] = u_[k];
      }
    }
  }

  int64_t I_, H_;
  std::vector<float> a_;           // (H) step() scratch: pre-activation of one stream
  std::vector<float> u_;           // (T, N, H) candidates of the last forward: the workspace
  std::vector<float> carry_, da_;  // (N, H) each: backward scratch
  int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace

// Exports charnn_plugin_entry: the only symbol the host looks for.
CHARNN_DECLARE_CELL(LeakyTanhCell, "leaky_tanh", "1.0.0",
                    "leaky-integrator tanh RNN, h' = (1-a) h + a tanh(x W_x + h W_h + b), a = 0.5 "
                    "(example plugin)")
