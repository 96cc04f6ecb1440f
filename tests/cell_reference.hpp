// Plain C++ reference of the built-in cells (loops, doubles), reading the same flat float
// parameter layout as the plugins: w_x (I, G, H), w_h (H, G, H), b (G, H), back to back.
// Elman: G = 1, h' = tanh(a).  LSTM: G = 4 in oneDNN's order i, f, g, o:
//   c' = sigmoid(a_f) c + sigmoid(a_i) tanh(a_g),  h' = sigmoid(a_o) tanh(c').
// GRU: G = 3 in PyTorch's order r, z, n, with two biases, b_x (G, H) and b_h (G, H), after b:
//   r = sigmoid(ax_r + ah_r), z = sigmoid(ax_z + ah_z), n = tanh(ax_n + r ah_n),
//   h' = (1 - z) n + z h,  where ax = x w_x + b_x and ah = h w_h + b_h.
// It is written for clarity, not speed: the tests run it on small shapes only.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace charnn::test {

enum class RefKind { elman, lstm, gru };

inline RefKind ref_kind(const std::string& name) {
  if (name == "elman") return RefKind::elman;
  if (name == "lstm") return RefKind::lstm;
  if (name == "gru") return RefKind::gru;
  throw std::invalid_argument("no reference for cell '" + name + "'");
}

struct RefShape {
  RefKind kind;
  std::int64_t T, N, I, H;
  std::int64_t G() const { return kind == RefKind::lstm ? 4 : kind == RefKind::gru ? 3 : 1; }
  std::int64_t S() const { return kind == RefKind::lstm ? 2 : 1; }
  std::int64_t num_params() const {
    return (I + H) * G() * H + (kind == RefKind::gru ? 2 : 1) * G() * H;
  }
};

// Everything forward computes, kept for backward.
struct RefForward {
  std::vector<double> dst;        // (T, N, H)
  std::vector<double> state_out;  // (S, N, H)
  std::vector<double> h;          // (T + 1, N, H): h[0] is the initial h
  std::vector<double> c;          // (T + 1, N, H): LSTM only
  std::vector<double> act;        // (T, N, G, H): gate values after their nonlinearity
  std::vector<double> ahn;        // (T, N, H): GRU only, the n part of ah that r scales
};

struct RefGrads {
  std::vector<double> diff_src;       // (T, N, I)
  std::vector<double> diff_params;    // flat, like params
  std::vector<double> diff_state_in;  // (S, N, H)
};

inline double ref_sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

inline RefForward ref_forward_gru(const RefShape& s, const float* params, const float* src,
                                  const float* state_in);
inline RefGrads ref_backward_gru(const RefShape& s, const float* params, const float* src,
                                 const RefForward& f, const float* diff_dst,
                                 const float* diff_state_out);

// state_in (S, N, H) may be null (zeros).
inline RefForward ref_forward(const RefShape& s, const float* params, const float* src,
                              const float* state_in) {
  if (s.kind == RefKind::gru) return ref_forward_gru(s, params, src, state_in);
  const std::int64_t T = s.T, N = s.N, I = s.I, H = s.H, G = s.G(), S = s.S();
  const float* w_x = params;                  // (I, G, H)
  const float* w_h = params + I * G * H;      // (H, G, H)
  const float* b = params + (I + H) * G * H;  // (G, H)
  RefForward f;
  f.dst.assign(T * N * H, 0.0);
  f.state_out.assign(S * N * H, 0.0);
  f.h.assign((T + 1) * N * H, 0.0);
  f.c.assign((T + 1) * N * H, 0.0);
  f.act.assign(T * N * G * H, 0.0);
  if (state_in) {
    for (std::int64_t k = 0; k < N * H; ++k) f.h[k] = state_in[k];
    if (S > 1)
      for (std::int64_t k = 0; k < N * H; ++k) f.c[k] = state_in[N * H + k];
  }
  std::vector<double> a(G * H);  // (G, H) pre-activations of one stream
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t n = 0; n < N; ++n) {
      const float* x = src + (t * N + n) * I;     // (I)
      const double* hp = &f.h[(t * N + n) * H];   // (H) previous h
      const double* cp = &f.c[(t * N + n) * H];   // (H) previous c
      double* hn = &f.h[((t + 1) * N + n) * H];   // (H) new h
      double* cn = &f.c[((t + 1) * N + n) * H];   // (H) new c
      double* act = &f.act[(t * N + n) * G * H];  // (G, H)
      for (std::int64_t gh = 0; gh < G * H; ++gh) {
        double v = b[gh];
        for (std::int64_t i = 0; i < I; ++i) v += double(x[i]) * w_x[i * G * H + gh];
        for (std::int64_t j = 0; j < H; ++j) v += hp[j] * w_h[j * G * H + gh];
        a[gh] = v;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        if (s.kind == RefKind::elman) {
          act[j] = std::tanh(a[j]);
          hn[j] = act[j];
        } else {
          const double gi = ref_sigmoid(a[j]), gf = ref_sigmoid(a[H + j]);
          const double gg = std::tanh(a[2 * H + j]), go = ref_sigmoid(a[3 * H + j]);
          act[j] = gi;
          act[H + j] = gf;
          act[2 * H + j] = gg;
          act[3 * H + j] = go;
          cn[j] = gf * cp[j] + gi * gg;
          hn[j] = go * std::tanh(cn[j]);
        }
        f.dst[(t * N + n) * H + j] = hn[j];
      }
    }
  }
  for (std::int64_t k = 0; k < N * H; ++k) {
    f.state_out[k] = f.h[T * N * H + k];
    if (S > 1) f.state_out[N * H + k] = f.c[T * N * H + k];
  }
  return f;
}

// Backpropagation through time. diff_state_out (S, N, H) may be null (zeros).
inline RefGrads ref_backward(const RefShape& s, const float* params, const float* src,
                             const RefForward& f, const float* diff_dst,
                             const float* diff_state_out) {
  if (s.kind == RefKind::gru) return ref_backward_gru(s, params, src, f, diff_dst, diff_state_out);
  const std::int64_t T = s.T, N = s.N, I = s.I, H = s.H, G = s.G(), S = s.S();
  const float* w_x = params;              // (I, G, H)
  const float* w_h = params + I * G * H;  // (H, G, H)
  RefGrads g;
  g.diff_src.assign(T * N * I, 0.0);
  g.diff_params.assign(s.num_params(), 0.0);
  g.diff_state_in.assign(S * N * H, 0.0);
  double* dw_x = g.diff_params.data();                           // (I, G, H)
  double* dw_h = dw_x + I * G * H;                               // (H, G, H)
  double* db = dw_x + (I + H) * G * H;                           // (G, H)
  std::vector<double> dh_next(N * H, 0.0), dc_next(N * H, 0.0);  // (N, H) from step t+1
  if (diff_state_out) {
    for (std::int64_t k = 0; k < N * H; ++k) dh_next[k] = diff_state_out[k];
    if (S > 1)
      for (std::int64_t k = 0; k < N * H; ++k) dc_next[k] = diff_state_out[N * H + k];
  }
  std::vector<double> da(G * H);  // (G, H) d loss / d pre-activations of one stream
  for (std::int64_t t = T - 1; t >= 0; --t) {
    for (std::int64_t n = 0; n < N; ++n) {
      const double* act = &f.act[(t * N + n) * G * H];
      const double* hp = &f.h[(t * N + n) * H];
      const double* cp = &f.c[(t * N + n) * H];
      const double* cn = &f.c[((t + 1) * N + n) * H];
      double* dhn = &dh_next[n * H];
      double* dcn = &dc_next[n * H];
      for (std::int64_t j = 0; j < H; ++j) {
        const double dh = diff_dst[(t * N + n) * H + j] + dhn[j];
        if (s.kind == RefKind::elman) {
          da[j] = dh * (1.0 - act[j] * act[j]);
        } else {
          const double gi = act[j], gf = act[H + j], gg = act[2 * H + j], go = act[3 * H + j];
          const double tc = std::tanh(cn[j]);
          const double dc = dcn[j] + dh * go * (1.0 - tc * tc);
          da[j] = dc * gg * gi * (1.0 - gi);
          da[H + j] = dc * cp[j] * gf * (1.0 - gf);
          da[2 * H + j] = dc * gi * (1.0 - gg * gg);
          da[3 * H + j] = dh * tc * go * (1.0 - go);
          dcn[j] = dc * gf;  // becomes d c_{t-1}
        }
      }
      const float* x = src + (t * N + n) * I;
      for (std::int64_t gh = 0; gh < G * H; ++gh) {
        db[gh] += da[gh];
        for (std::int64_t i = 0; i < I; ++i) dw_x[i * G * H + gh] += double(x[i]) * da[gh];
        for (std::int64_t j = 0; j < H; ++j) dw_h[j * G * H + gh] += hp[j] * da[gh];
      }
      for (std::int64_t i = 0; i < I; ++i) {
        double v = 0;
        for (std::int64_t gh = 0; gh < G * H; ++gh) v += w_x[i * G * H + gh] * da[gh];
        g.diff_src[(t * N + n) * I + i] = v;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        double v = 0;
        for (std::int64_t gh = 0; gh < G * H; ++gh) v += w_h[j * G * H + gh] * da[gh];
        dhn[j] = v;  // becomes d h_{t-1}
      }
    }
  }
  for (std::int64_t k = 0; k < N * H; ++k) {
    g.diff_state_in[k] = dh_next[k];
    if (S > 1) g.diff_state_in[N * H + k] = dc_next[k];
  }
  return g;
}

inline RefForward ref_forward_gru(const RefShape& s, const float* params, const float* src,
                                  const float* state_in) {
  const std::int64_t T = s.T, N = s.N, I = s.I, H = s.H, G = 3;
  const float* w_x = params;                    // (I, G, H)
  const float* w_h = params + I * G * H;        // (H, G, H)
  const float* b_x = params + (I + H) * G * H;  // (G, H)
  const float* b_h = b_x + G * H;               // (G, H)
  RefForward f;
  f.dst.assign(T * N * H, 0.0);
  f.state_out.assign(N * H, 0.0);
  f.h.assign((T + 1) * N * H, 0.0);
  f.act.assign(T * N * G * H, 0.0);
  f.ahn.assign(T * N * H, 0.0);
  if (state_in)
    for (std::int64_t k = 0; k < N * H; ++k) f.h[k] = state_in[k];
  std::vector<double> ax(G * H), ah(G * H);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t n = 0; n < N; ++n) {
      const float* x = src + (t * N + n) * I;
      const double* hp = &f.h[(t * N + n) * H];
      double* hn = &f.h[((t + 1) * N + n) * H];
      double* act = &f.act[(t * N + n) * G * H];
      for (std::int64_t gh = 0; gh < G * H; ++gh) {
        double vx = b_x[gh], vh = b_h[gh];
        for (std::int64_t i = 0; i < I; ++i) vx += double(x[i]) * w_x[i * G * H + gh];
        for (std::int64_t j = 0; j < H; ++j) vh += hp[j] * w_h[j * G * H + gh];
        ax[gh] = vx;
        ah[gh] = vh;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        const double r = ref_sigmoid(ax[j] + ah[j]);
        const double z = ref_sigmoid(ax[H + j] + ah[H + j]);
        const double c = std::tanh(ax[2 * H + j] + r * ah[2 * H + j]);
        act[j] = r;
        act[H + j] = z;
        act[2 * H + j] = c;
        f.ahn[(t * N + n) * H + j] = ah[2 * H + j];
        hn[j] = (1 - z) * c + z * hp[j];
        f.dst[(t * N + n) * H + j] = hn[j];
      }
    }
  for (std::int64_t k = 0; k < N * H; ++k) f.state_out[k] = f.h[T * N * H + k];
  return f;
}

inline RefGrads ref_backward_gru(const RefShape& s, const float* params, const float* src,
                                 const RefForward& f, const float* diff_dst,
                                 const float* diff_state_out) {
  const std::int64_t T = s.T, N = s.N, I = s.I, H = s.H, G = 3;
  const float* w_x = params;
  const float* w_h = params + I * G * H;
  RefGrads g;
  g.diff_src.assign(T * N * I, 0.0);
  g.diff_params.assign(s.num_params(), 0.0);
  g.diff_state_in.assign(N * H, 0.0);
  double* dw_x = g.diff_params.data();
  double* dw_h = dw_x + I * G * H;
  double* db_x = dw_x + (I + H) * G * H;
  double* db_h = db_x + G * H;
  std::vector<double> dh_next(N * H, 0.0);
  if (diff_state_out)
    for (std::int64_t k = 0; k < N * H; ++k) dh_next[k] = diff_state_out[k];
  std::vector<double> dax(G * H), dah(G * H), dh_prev(H);
  for (std::int64_t t = T - 1; t >= 0; --t)
    for (std::int64_t n = 0; n < N; ++n) {
      const double* act = &f.act[(t * N + n) * G * H];
      const double* hp = &f.h[(t * N + n) * H];
      double* dhn = &dh_next[n * H];
      for (std::int64_t j = 0; j < H; ++j) {
        const double r = act[j], z = act[H + j], c = act[2 * H + j];
        const double dh = diff_dst[(t * N + n) * H + j] + dhn[j];
        const double dc = dh * (1 - z) * (1 - c * c);
        dax[2 * H + j] = dc;
        dah[2 * H + j] = dc * r;
        dax[j] = dah[j] = dc * f.ahn[(t * N + n) * H + j] * r * (1 - r);
        dax[H + j] = dah[H + j] = dh * (hp[j] - c) * z * (1 - z);
        dh_prev[j] = dh * z;
      }
      const float* x = src + (t * N + n) * I;
      for (std::int64_t gh = 0; gh < G * H; ++gh) {
        db_x[gh] += dax[gh];
        db_h[gh] += dah[gh];
        for (std::int64_t i = 0; i < I; ++i) dw_x[i * G * H + gh] += double(x[i]) * dax[gh];
        for (std::int64_t j = 0; j < H; ++j) dw_h[j * G * H + gh] += hp[j] * dah[gh];
      }
      for (std::int64_t i = 0; i < I; ++i) {
        double v = 0;
        for (std::int64_t gh = 0; gh < G * H; ++gh) v += w_x[i * G * H + gh] * dax[gh];
        g.diff_src[(t * N + n) * I + i] = v;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        double v = dh_prev[j];
        for (std::int64_t gh = 0; gh < G * H; ++gh) v += w_h[j * G * H + gh] * dah[gh];
        dhn[j] = v;  // becomes d h_{t-1}
      }
    }
  g.diff_state_in = dh_next;
  return g;
}

}  // namespace charnn::test
