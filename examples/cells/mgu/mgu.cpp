// mgu: the minimal gated unit (Zhou, Wu, Zhang and Zhou, 2016), an example cell plugin written
// against nothing but <charnn/plugin.hpp>, with plain loops.
//
// One gate does the work of the GRU's two: it decides how much of the state to rewrite, and the
// candidate sees only that part of the old state.
//   f_t = sigmoid(x_t W_xf + h_{t-1} W_hf + b_f)             forget/update gate, (N, H)
//   n_t = tanh(x_t W_xn + (f_t * h_{t-1}) W_hn + b_n)       candidate, (N, H)
//   h_t = (1 - f_t) * h_{t-1} + f_t * n_t
// Parameters, back to back in the flat buffer: w_xf (I, H), w_hf (H, H), b_f (H), w_xn (I, H),
// w_hn (H, H), b_n (H). State: h. Trace signals: h, f, n.
//
// The readable form, for learning the plugin interface; a fast cell would hand the products to
// oneDNN (see plugins/gru). `charnn check-cell --plugin charnn-cell-mgu.so` proves it right.
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

class MguCell final : public charnn::plugin::Cell {
 public:
  MguCell(int64_t input_size, int64_t hidden_size) : I_(input_size), H_(hidden_size) {}

  std::vector<charnn_tensor_info> params() const override {
    return {{"w_xf", 2, {I_, H_, 0, 0}}, {"w_hf", 2, {H_, H_, 0, 0}}, {"b_f", 1, {H_, 0, 0, 0}},
            {"w_xn", 2, {I_, H_, 0, 0}}, {"w_hn", 2, {H_, H_, 0, 0}}, {"b_n", 1, {H_, 0, 0, 0}}};
  }
  std::vector<const char*> states() const override { return {"h"}; }
  std::vector<const char*> signals() const override { return {"h", "f", "n"}; }

  // Weights uniform in +-1/sqrt(H); b_f = 1, so that at first each step keeps most of the state
  // (the same idea as the LSTM's forget bias); b_n = 0.
  void init_params(float* p, uint64_t seed) const override {
    charnn::SplitMix64 rng(seed);
    const float a = 1.0f / std::sqrt(static_cast<float>(H_));
    const Weights w = view(p);
    for (float* m : {const_cast<float*>(w.xf), const_cast<float*>(w.xn)})
      for (int64_t k = 0; k < I_ * H_; ++k) m[k] = rng.uniform_sym(a);
    for (float* m : {const_cast<float*>(w.hf), const_cast<float*>(w.hn)})
      for (int64_t k = 0; k < H_ * H_; ++k) m[k] = rng.uniform_sym(a);
    for (int64_t j = 0; j < H_; ++j) {
      const_cast<float*>(w.bf)[j] = 1.0f;
      const_cast<float*>(w.bn)[j] = 0.0f;
    }
  }

  void forward(const charnn_forward_args& a) override {
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, nullptr);
    trained_T_ = a.training ? a.T : 0;
    trained_N_ = a.training ? a.N : 0;
  }

  void backward(const charnn_backward_args& a) override {
    const int64_t T = a.T, N = a.N, I = I_, H = H_;
    if (T != trained_T_ || N != trained_N_)
      throw Error(CHARNN_ERR_STATE, "backward needs a training forward with the same T and N");
    const Weights w = view(a.params);
    Weights d = view(a.diff_params);  // accumulated into, as the ABI asks
    float* dxf = const_cast<float*>(d.xf);
    float* dhf = const_cast<float*>(d.hf);
    float* dbf = const_cast<float*>(d.bf);
    float* dxn = const_cast<float*>(d.xn);
    float* dhn = const_cast<float*>(d.hn);
    float* dbn = const_cast<float*>(d.bn);
    std::vector<float> carry(static_cast<size_t>(N * H), 0.0f);  // dL/dh_t from step t+1
    if (a.diff_state_out) carry.assign(a.diff_state_out, a.diff_state_out + N * H);
    std::vector<float> daf(H), dan(H), dg(H), g(H);
    for (int64_t t = T - 1; t >= 0; --t) {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t row = t * N + n;
        const float* x = a.src + row * I;
        const float* hp =
            t > 0 ? a.dst + ((t - 1) * N + n) * H : (a.state_in ? a.state_in + n * H : nullptr);
        const float* f = f_.data() + row * H;
        const float* c = n_.data() + row * H;
        float* dh = carry.data() + n * H;
        for (int64_t j = 0; j < H; ++j) {
          const float h = hp ? hp[j] : 0.0f;
          const float total = a.diff_dst[row * H + j] + dh[j];
          dan[j] = total * f[j] * (1.0f - c[j] * c[j]);
          daf[j] = total * (c[j] - h);  // through h_t directly; the candidate's part follows
          g[j] = f[j] * h;
          dh[j] = total * (1.0f - f[j]);  // the path that keeps the old state
        }
        // Through the candidate's recurrent product: dg = dan W_hn^T, and g = f * h.
        for (int64_t k = 0; k < H; ++k) {
          float s = 0;
          for (int64_t j = 0; j < H; ++j) s += w.hn[k * H + j] * dan[j];
          dg[k] = s;
        }
        for (int64_t j = 0; j < H; ++j) {
          const float h = hp ? hp[j] : 0.0f;
          daf[j] = (daf[j] + dg[j] * h) * f[j] * (1.0f - f[j]);
          dh[j] += dg[j] * f[j];
        }
        for (int64_t j = 0; j < H; ++j) {
          dbf[j] += daf[j];
          dbn[j] += dan[j];
        }
        for (int64_t i = 0; i < I; ++i) {
          float s = 0;
          for (int64_t j = 0; j < H; ++j) {
            dxf[i * H + j] += x[i] * daf[j];
            dxn[i * H + j] += x[i] * dan[j];
            s += w.xf[i * H + j] * daf[j] + w.xn[i * H + j] * dan[j];
          }
          if (a.diff_src) a.diff_src[row * I + i] = s;
        }
        for (int64_t k = 0; k < H; ++k) {
          const float h = hp ? hp[k] : 0.0f;
          float s = 0;
          for (int64_t j = 0; j < H; ++j) {
            dhf[k * H + j] += h * daf[j];
            dhn[k * H + j] += g[k] * dan[j];
            s += w.hf[k * H + j] * daf[j];
          }
          dh[k] += s;
        }
      }
    }
    if (a.diff_state_in)
      for (int64_t k = 0; k < N * H; ++k) a.diff_state_in[k] = carry[k];
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
    h_.assign(a.state, a.state + a.N * H_);
    run(1, a.N, a.params, x_.data(), h_.data(), a.dst, a.state, nullptr);
  }

  void trace(const charnn_trace_args& a) override {
    trained_T_ = trained_N_ = 0;
    run(a.T, a.N, a.params, a.src, a.state_in, a.dst, a.state_out, a.signals);
  }

 private:
  struct Weights {
    const float *xf, *hf, *bf, *xn, *hn, *bn;
  };
  Weights view(const float* p) const {
    const int64_t xh = I_ * H_, hh = H_ * H_, gate = xh + hh + H_;
    return {p, p + xh, p + xh + hh, p + gate, p + gate + xh, p + gate + xh + hh};
  }

  // The sequence loop of forward, step and trace. Keeps f and n (T, N, H) for backward; signals,
  // when given, is (3, T, N, H): h, f, n.
  void run(int64_t T, int64_t N, const float* params, const float* src, const float* state_in,
           float* dst, float* state_out, float* signals) {
    const Weights w = view(params);
    const int64_t I = I_, H = H_;
    f_.resize(static_cast<size_t>(T * N * H));
    n_.resize(static_cast<size_t>(T * N * H));
    g_.resize(static_cast<size_t>(H));  // kept: step() runs this once per character
    float* g = g_.data();
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t row = t * N + n;
        const float* x = src + row * I;
        const float* hp =
            t > 0 ? dst + ((t - 1) * N + n) * H : (state_in ? state_in + n * H : nullptr);
        float* f = f_.data() + row * H;
        float* c = n_.data() + row * H;
        for (int64_t j = 0; j < H; ++j) {
          float s = w.bf[j];
          for (int64_t i = 0; i < I; ++i) s += x[i] * w.xf[i * H + j];
          if (hp)
            for (int64_t k = 0; k < H; ++k) s += hp[k] * w.hf[k * H + j];
          f[j] = sigmoid(s);
        }
        for (int64_t k = 0; k < H; ++k) g[k] = hp ? f[k] * hp[k] : 0.0f;
        for (int64_t j = 0; j < H; ++j) {
          float s = w.bn[j];
          for (int64_t i = 0; i < I; ++i) s += x[i] * w.xn[i * H + j];
          for (int64_t k = 0; k < H; ++k) s += g[k] * w.hn[k * H + j];
          c[j] = std::tanh(s);
        }
        float* h = dst + row * H;
        for (int64_t j = 0; j < H; ++j) {
          const float old = hp ? hp[j] : 0.0f;
          h[j] = old + f[j] * (c[j] - old);
        }
      }
    }
    if (state_out)
      for (int64_t k = 0; k < N * H; ++k) state_out[k] = dst[(T - 1) * N * H + k];
    if (signals)
      for (int64_t k = 0; k < T * N * H; ++k) {
        signals[k] = dst[k];
        signals[T * N * H + k] = f_[k];
        signals[2 * T * N * H + k] = n_[k];
      }
  }

  int64_t I_, H_;
  std::vector<float> f_, n_;  // (T, N, H) gates and candidates of the last run: the workspace
  std::vector<float> x_, h_;  // step(): the one-hot rows and a copy of the state
  std::vector<float> g_;      // run(): f * h_{t-1} of one stream (H)
  int64_t trained_T_ = 0, trained_N_ = 0;
};

}  // namespace

CHARNN_DECLARE_CELL(MguCell, "mgu", "1.0.0",
                    "minimal gated unit: one gate f, h' = (1-f) h + f tanh(x W_xn + (f h) W_hn + "
                    "b_n) (example plugin)")
