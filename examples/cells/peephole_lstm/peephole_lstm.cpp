// peephole_lstm: an LSTM whose gates also look at the cell state (Gers and Schmidhuber, 2000),
// an example cell plugin written against nothing but <charnn/plugin.hpp>, with plain loops.
//
// The input and forget gates see the old cell state, the output gate the new one, each through a
// diagonal weight (one number per unit), which helps a cell time its gates by its own count:
//   i = sigmoid(x W_xi + h W_hi + p_i * c + b_i)
//   f = sigmoid(x W_xf + h W_hf + p_f * c + b_f)
//   g = tanh(x W_xg + h W_hg + b_g)
//   c' = f * c + i * g
//   o = sigmoid(x W_xo + h W_ho + p_o * c' + b_o)
//   h' = o * tanh(c')
// Parameters, back to back: w_x (I, 4, H) and w_h (H, 4, H) with the gates in the order i, f, g,
// o (as the built-in lstm), b (4, H), p (3, H) the peepholes of i, f and o. States: h, c. Trace
// signals: h, c, i, f, o, g.
//
// The readable form, for learning the plugin interface; `charnn check-cell --plugin
// charnn-cell-peephole_lstm.so` proves it right.
#include <charnn/plugin.hpp>
#include <charnn/random.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using charnn::plugin::Error;

float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}

class PeepholeLstmCell final : public charnn::plugin::Cell {
 public:
  PeepholeLstmCell(int64_t input_size, int64_t hidden_size) : I_(input_size), H_(hidden_size) {}

  std::vector<charnn_tensor_info> params() const override {
    return {{"w_x", 3, {I_, 4, H_, 0}},
            {"w_h", 3, {H_, 4, H_, 0}},
            {"b", 2, {4, H_, 0, 0}},
            {"p", 2, {3, H_, 0, 0}}};
  }
  std::vector<const char*> states() const override { return {"h", "c"}; }
  std::vector<const char*> signals() const override { return {"h", "c", "i", "f", "o", "g"}; }

  // Weights uniform in +-1/sqrt(H), forget bias 1, other biases and the peepholes 0: at first
  // it is a plain LSTM.
  void init_params(float* p, uint64_t seed) const override {
    charnn::SplitMix64 rng(seed);
    const float a = 1.0f / std::sqrt(static_cast<float>(H_));
    const int64_t G = 4 * H_, weights = (I_ + H_) * G;
    for (int64_t k = 0; k < weights; ++k) p[k] = rng.uniform_sym(a);
    for (int64_t k = 0; k < G + 3 * H_; ++k) p[weights + k] = (k >= H_ && k < 2 * H_) ? 1.0f : 0.0f;
  }

  void forward(const charnn_forward_args& a) override {
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, nullptr);
    trained_T_ = a.training ? a.T : 0;
    trained_N_ = a.training ? a.N : 0;
  }

  void backward(const charnn_backward_args& a) override {
    const int64_t T = a.T, N = a.N, I = I_, H = H_, G = 4 * H_;
    if (T != trained_T_ || N != trained_N_)
      throw Error(CHARNN_ERR_STATE, "backward needs a training forward with the same T and N");
    const float* wx = a.params;
    const float* wh = wx + I * G;
    const float* pi = wh + H * G + G;  // p (3, H): i, f, o
    const float* pf = pi + H;
    const float* po = pf + H;
    float* dwx = a.diff_params;  // accumulated into, as the ABI asks
    float* dwh = dwx + I * G;
    float* db = dwh + H * G;
    float* dp = db + G;
    std::vector<float> dh(static_cast<size_t>(N * H), 0.0f), dc(dh.size(), 0.0f);
    if (a.diff_state_out) {
      dh.assign(a.diff_state_out, a.diff_state_out + N * H);
      dc.assign(a.diff_state_out + N * H, a.diff_state_out + 2 * N * H);
    }
    std::vector<float> da(static_cast<size_t>(G));  // one stream's d pre-activations i, f, g, o
    for (int64_t t = T - 1; t >= 0; --t) {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t row = t * N + n;
        const float* gate = gates_.data() + row * G;
        const float *i = gate, *f = gate + H, *g = gate + 2 * H, *o = gate + 3 * H;
        const float* c = cs_.data() + row * H;
        const float* cp = c_prev(t, n, N, a.state_in);
        const float* hp =
            t > 0 ? a.dst + ((t - 1) * N + n) * H : (a.state_in ? a.state_in + n * H : nullptr);
        const float* x = a.src + row * I;
        float* dhn = dh.data() + n * H;
        float* dcn = dc.data() + n * H;
        for (int64_t j = 0; j < H; ++j) {
          const float total = a.diff_dst[row * H + j] + dhn[j];
          const float tc = std::tanh(c[j]);
          const float c_old = cp ? cp[j] : 0.0f;
          const float dao = total * tc * o[j] * (1.0f - o[j]);
          const float dct = dcn[j] + total * o[j] * (1.0f - tc * tc) + dao * po[j];
          const float dai = dct * g[j] * i[j] * (1.0f - i[j]);
          const float daf = dct * c_old * f[j] * (1.0f - f[j]);
          const float dag = dct * i[j] * (1.0f - g[j] * g[j]);
          da[j] = dai;
          da[H + j] = daf;
          da[2 * H + j] = dag;
          da[3 * H + j] = dao;
          dp[j] += dai * c_old;
          dp[H + j] += daf * c_old;
          dp[2 * H + j] += dao * c[j];
          dcn[j] = dct * f[j] + dai * pi[j] + daf * pf[j];  // becomes dL/dc_{t-1}
        }
        for (int64_t k = 0; k < G; ++k) db[k] += da[k];
        for (int64_t r = 0; r < I; ++r) {
          float s = 0;
          for (int64_t k = 0; k < G; ++k) {
            dwx[r * G + k] += x[r] * da[k];
            s += wx[r * G + k] * da[k];
          }
          if (a.diff_src) a.diff_src[row * I + r] = s;
        }
        for (int64_t r = 0; r < H; ++r) {
          const float h = hp ? hp[r] : 0.0f;
          float s = 0;
          for (int64_t k = 0; k < G; ++k) {
            dwh[r * G + k] += h * da[k];
            s += wh[r * G + k] * da[k];
          }
          dhn[r] = s;  // becomes dL/dh_{t-1}
        }
      }
    }
    if (a.diff_state_in)
      for (int64_t k = 0; k < N * H; ++k) {
        a.diff_state_in[k] = dh[k];
        a.diff_state_in[N * H + k] = dc[k];
      }
  }

  // One step for sampling: a sequence of one, the state updated in place. It reuses the
  // workspace, so a backward after it has nothing to consume.
  void step(const charnn_step_args& a) override {
    trained_T_ = trained_N_ = 0;
    x_.assign(static_cast<size_t>(a.N * I_), 0.0f);
    for (int64_t n = 0; n < a.N; ++n) {
      if (!a.src_index) {
        for (int64_t i = 0; i < I_; ++i) x_[n * I_ + i] = a.src[n * I_ + i];
        continue;
      }
      const int32_t col = a.src_index[n];
      if (col < 0 || col >= I_) throw Error(CHARNN_ERR_ARGUMENT, "src_index out of range");
      x_[n * I_ + col] = 1.0f;
    }
    state_.assign(a.state, a.state + 2 * a.N * H_);
    run(1, a.N, a.params, x_.data(), state_.data(), a.dst, a.state, nullptr);
  }

  void trace(const charnn_trace_args& a) override {
    trained_T_ = trained_N_ = 0;
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, a.signals);
  }

 private:
  // c_{t-1} of stream n: the last step's, or the initial state's (NULL: zeros).
  const float* c_prev(int64_t t, int64_t n, int64_t N, const float* state_in) const {
    if (t > 0) return cs_.data() + ((t - 1) * N + n) * H_;
    return state_in ? state_in + (N + n) * H_ : nullptr;
  }

  // The sequence loop of forward, step and trace. Keeps the gates (T, N, 4, H) and c (T, N, H)
  // for backward; signals, when given, is (6, T, N, H): h, c, i, f, o, g.
  void run(int64_t T, int64_t N, const float* params, const float* src, const float* state_in,
           float* dst, float* state_out, float* signals) {
    const int64_t I = I_, H = H_, G = 4 * H_;
    const float* wx = params;
    const float* wh = wx + I * G;
    const float* b = wh + H * G;
    const float* pi = b + G;
    const float* pf = pi + H;
    const float* po = pf + H;
    gates_.resize(static_cast<size_t>(T * N * G));
    cs_.resize(static_cast<size_t>(T * N * H));
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t row = t * N + n;
        const float* x = src + row * I;
        const float* hp =
            t > 0 ? dst + ((t - 1) * N + n) * H : (state_in ? state_in + n * H : nullptr);
        const float* cp = c_prev(t, n, N, state_in);
        float* a = gates_.data() + row * G;
        for (int64_t k = 0; k < G; ++k) {
          float s = b[k];
          for (int64_t r = 0; r < I; ++r) s += x[r] * wx[r * G + k];
          if (hp)
            for (int64_t r = 0; r < H; ++r) s += hp[r] * wh[r * G + k];
          a[k] = s;
        }
        float* c = cs_.data() + row * H;
        float* h = dst + row * H;
        for (int64_t j = 0; j < H; ++j) {
          const float c_old = cp ? cp[j] : 0.0f;
          const float i = sigmoid(a[j] + pi[j] * c_old);
          const float f = sigmoid(a[H + j] + pf[j] * c_old);
          const float g = std::tanh(a[2 * H + j]);
          c[j] = f * c_old + i * g;
          const float o = sigmoid(a[3 * H + j] + po[j] * c[j]);
          h[j] = o * std::tanh(c[j]);
          a[j] = i;
          a[H + j] = f;
          a[2 * H + j] = g;
          a[3 * H + j] = o;
        }
      }
    }
    const int64_t TNH = T * N * H;
    if (state_out)
      for (int64_t k = 0; k < N * H; ++k) {
        state_out[k] = dst[(T - 1) * N * H + k];
        state_out[N * H + k] = cs_[(T - 1) * N * H + k];
      }
    if (signals)
      for (int64_t row = 0; row < T * N; ++row)
        for (int64_t j = 0; j < H; ++j) {
          const float* a = gates_.data() + row * G;
          const int64_t k = row * H + j;
          signals[k] = dst[k];
          signals[TNH + k] = cs_[k];
          signals[2 * TNH + k] = a[j];
          signals[3 * TNH + k] = a[H + j];
          signals[4 * TNH + k] = a[3 * H + j];
          signals[5 * TNH + k] = a[2 * H + j];
        }
  }

  int64_t I_, H_;
  std::vector<float> gates_, cs_;  // the last run's gates (T, N, 4, H) and c (T, N, H)
  std::vector<float> x_, state_;   // step(): the one-hot rows and a copy of the state
  int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace

CHARNN_DECLARE_CELL(PeepholeLstmCell, "peephole_lstm", "1.0.0",
                    "LSTM whose gates also see the cell state through diagonal peephole weights "
                    "(example plugin)")
