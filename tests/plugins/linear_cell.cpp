// A test-only cell: a linear recurrence with no nonlinearity, written with plain loops through
// plugin.hpp. It exists to exercise the loader and the host's Cell wrapper with a plugin the core
// has never heard of, and its closed form makes results easy to check by hand:
//   h_t = W_x x_t + W_h h_{t-1} + b
// Trace records two signals: "h" and "wx" (= W_x x_t, the input's contribution). It refuses to be
// created with input size 999, so tests can exercise a plugin-side create failure.
// TEST_CELL_NAME lets tests/plugins/CMakeLists.txt build copies under another name (duplicates).
// It has no prepared step (plugin.hpp's default prepare_step answers CHARNN_ERR_UNSUPPORTED).
// TEST_CELL_ABI_1_0 builds it as a plugin from before ABI 1.1: its table says minor 0 and ends
// before prepare_step (the pointer is still set in memory, so the host must honour struct_size).
// TEST_CELL_BREAK_GRADIENT, _STATE and _NAN build it wrong on purpose, for `charnn check-cell` to
// catch: no bias gradient and half the W_h gradient (two wrong tensors, so that the report must
// name both); forward ignores state_in; a NaN in forward's last step.
#include <charnn/plugin.hpp>
#include <charnn/random.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#ifndef TEST_CELL_NAME
#define TEST_CELL_NAME "test_linear"
#endif

namespace {

using charnn::plugin::Error;

class LinearCell final : public charnn::plugin::Cell {
 public:
  LinearCell(int64_t input_size, int64_t hidden_size) : I_(input_size), H_(hidden_size) {
    // Lets the tests see how a plugin's refusal to create a layer reaches the user.
    if (input_size == 999)
      throw Error(CHARNN_ERR_UNSUPPORTED,
                  "test_linear refuses input size 999 (create-failure test)");
  }

  std::vector<charnn_tensor_info> params() const override {
    return {{"w_x", 2, {H_, I_, 0, 0}}, {"w_h", 2, {H_, H_, 0, 0}}, {"b", 1, {H_, 0, 0, 0}}};
  }
  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h", "wx"}; }

  void init_params(float* params, uint64_t seed) const override {
    // splitmix64: deterministic for a seed, uniform in [-1/sqrt(H), 1/sqrt(H)]; b = 0.
    charnn::SplitMix64 rng(seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(H_));
    const int64_t n_w = H_ * I_ + H_ * H_;
    for (int64_t k = 0; k < n_w; ++k) {
      const double u = static_cast<double>(rng.next() >> 11) / 9007199254740992.0;  // [0, 1)
      params[k] = static_cast<float>((2.0 * u - 1.0) * scale);
    }
    for (int64_t h = 0; h < H_; ++h) params[n_w + h] = 0.0f;
  }

  void forward(const charnn_forward_args& a) override {
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, nullptr);
    trained_T_ = a.training ? a.T : 0;
    trained_N_ = a.training ? a.N : 0;
  }

  void backward(const charnn_backward_args& a) override {
    if (trained_T_ != a.T || trained_N_ != a.N || a.T < 1)
      throw Error(CHARNN_ERR_STATE, "backward needs a training forward with the same T and N");
    const int64_t T = a.T, N = a.N;
    const float* wx = a.params;                            // (H, I)
    const float* wh = wx + H_ * I_;                        // (H, H)
    float* dwx = a.diff_params;                            // (H, I)
    float* dwh = dwx + H_ * I_;                            // (H, H)
    float* db = dwh + H_ * H_;                             // (H)
    std::vector<float> dh(static_cast<size_t>(N * H_));    // (N, H) gradient into h_t
    std::vector<float> next(static_cast<size_t>(N * H_));  // (N, H) from step t+1 via W_h
    if (a.diff_state_out)
      for (int64_t k = 0; k < N * H_; ++k) next[k] = a.diff_state_out[k];
    for (int64_t t = T - 1; t >= 0; --t) {
      const float* x = a.src + t * N * I_;                                 // (N, I)
      const float* hprev = t > 0 ? a.dst + (t - 1) * N * H_ : a.state_in;  // (N, H) or NULL
      for (int64_t k = 0; k < N * H_; ++k) dh[k] = a.diff_dst[t * N * H_ + k] + next[k];
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t h = 0; h < H_; ++h) {
          const float g = dh[n * H_ + h];
#ifndef TEST_CELL_BREAK_GRADIENT
          db[h] += g;
#else
          (void)db;
#endif
          for (int64_t i = 0; i < I_; ++i) dwx[h * I_ + i] += g * x[n * I_ + i];
#ifndef TEST_CELL_BREAK_GRADIENT
          const float wh_scale = 1.0f;
#else
          const float wh_scale = 0.5f;
#endif
          if (hprev)
            for (int64_t j = 0; j < H_; ++j) dwh[h * H_ + j] += wh_scale * g * hprev[n * H_ + j];
        }
        if (a.diff_src) {
          float* dx = a.diff_src + (t * N + n) * I_;
          for (int64_t i = 0; i < I_; ++i) {
            float acc = 0;
            for (int64_t h = 0; h < H_; ++h) acc += wx[h * I_ + i] * dh[n * H_ + h];
            dx[i] = acc;
          }
        }
        for (int64_t j = 0; j < H_; ++j) {
          float acc = 0;
          for (int64_t h = 0; h < H_; ++h) acc += wh[h * H_ + j] * dh[n * H_ + h];
          next[n * H_ + j] = acc;
        }
      }
    }
    if (a.diff_state_in)
      for (int64_t k = 0; k < N * H_; ++k) a.diff_state_in[k] = next[k];
  }

  void step(const charnn_step_args& a) override {
    const float* wx = a.params;
    const float* wh = wx + H_ * I_;
    const float* b = wh + H_ * H_;
    std::vector<float> h(static_cast<size_t>(H_));  // (H) new state of one stream
    for (int64_t n = 0; n < a.N; ++n) {
      const float* hp = a.state + n * H_;
      for (int64_t r = 0; r < H_; ++r) {
        float acc = b[r];
        if (a.src_index) {
          const int32_t col = a.src_index[n];
          if (col < 0 || col >= I_) throw Error(CHARNN_ERR_ARGUMENT, "src_index out of range");
          acc += wx[r * I_ + col];
        } else {
          for (int64_t i = 0; i < I_; ++i) acc += wx[r * I_ + i] * a.src[n * I_ + i];
        }
        for (int64_t j = 0; j < H_; ++j) acc += wh[r * H_ + j] * hp[j];
        h[r] = acc;
      }
      for (int64_t r = 0; r < H_; ++r) {
        a.state[n * H_ + r] = h[r];
        a.dst[n * H_ + r] = h[r];
      }
    }
  }

  void trace(const charnn_trace_args& a) override {
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, a.signals);
  }

 private:
  // signals: (2, T, N, H) or NULL.
  void run(int64_t T, int64_t N, const float* params, const float* src, const float* state_in,
           float* dst, float* state_out, float* signals) const {
    const float* wx = params;        // (H, I)
    const float* wh = wx + H_ * I_;  // (H, H)
    const float* b = wh + H_ * H_;   // (H)
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) {
        const float* x = src + (t * N + n) * I_;
#ifdef TEST_CELL_BREAK_STATE
        state_in = nullptr;
#endif
        const float* hp =
            t > 0 ? dst + ((t - 1) * N + n) * H_ : (state_in ? state_in + n * H_ : nullptr);
        float* out = dst + (t * N + n) * H_;
        for (int64_t r = 0; r < H_; ++r) {
          float in = 0;
          for (int64_t i = 0; i < I_; ++i) in += wx[r * I_ + i] * x[i];
          float rec = 0;
          if (hp)
            for (int64_t j = 0; j < H_; ++j) rec += wh[r * H_ + j] * hp[j];
          out[r] = in + rec + b[r];
#ifdef TEST_CELL_BREAK_NAN
          if (t == T - 1 && n == N - 1 && r == H_ - 1) out[r] = std::nanf("");
#endif
          if (signals) signals[(T + t) * N * H_ + n * H_ + r] = in;
        }
      }
    }
    if (signals)
      for (int64_t k = 0; k < T * N * H_; ++k) signals[k] = dst[k];
    if (state_out)
      for (int64_t k = 0; k < N * H_; ++k) state_out[k] = dst[(T - 1) * N * H_ + k];
  }

  int64_t I_, H_;
  int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace

#ifndef TEST_CELL_ABI_1_0
CHARNN_DECLARE_CELL(LinearCell, TEST_CELL_NAME, "0.1.0",
                    "test-only linear recurrence h = Wx x + Wh h + b")
#else
extern "C" CHARNN_PLUGIN_EXPORT const charnn_cell_api* charnn_plugin_entry(void) {
  static const charnn_cell_api api = [] {
    charnn_cell_api a = ::charnn::plugin::detail::Adapter<LinearCell>::make(
        TEST_CELL_NAME, "0.1.0", "test-only linear recurrence, as an ABI 1.0 plugin");
    a.struct_size = offsetof(charnn_cell_api, prepare_step);
    a.abi_minor = 0;
    return a;
  }();
  return &api;
}
#endif
