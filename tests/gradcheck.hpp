// Finite-difference gradient check for ANY cell plugin, through the host's charnn::Cell only
// (no knowledge of what the parameters mean). The loss is
//   L = sum(w * dst) + sum(v * state_out)
// with fixed random w (T, N, H) and v (S, N, H), so backward gets diff_dst = w and
// diff_state_out = v (both nonzero). Every parameter, input and initial-state element (or a
// random sample of them for large tensors) is perturbed by +-eps in float, L is accumulated in
// double, and the central difference is compared with the analytic gradient by
//   |analytic - numeric| / max(|analytic|, |numeric|, floor)
// where the floor keeps float rounding noise on near-zero gradients from dominating.
#pragma once

#include <charnn/cell.hpp>
#include <charnn/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace charnn::test {

// Deterministic test data (splitmix64), identical on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : mix_(seed) {}
  std::uint64_t next() { return mix_.next(); }
  // Uniform in [-a, a).
  float uniform1(float a) { return mix_.uniform_sym(a); }
  std::vector<float> uniform(std::int64_t n, float a) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform1(a);
    return v;
  }

 private:
  charnn::SplitMix64 mix_;
};

struct GradcheckOptions {
  std::int64_t T = 3, N = 2;
  float eps = 1e-2f;                  // perturbation, in float
  double floor = 1e-2;                // denominator floor of the relative error
  std::int64_t max_per_tensor = 400;  // above this, a random sample of elements is checked
  std::uint64_t seed = 42;
};

struct GradcheckResult {
  double max_rel_error = 0;  // over every element checked
  std::string worst;         // which element, with both values
  std::int64_t checked = 0;  // elements checked
};

inline GradcheckResult gradcheck(Cell& cell, const GradcheckOptions& o = {}) {
  const std::int64_t T = o.T, N = o.N, I = cell.input_size(), H = cell.hidden_size();
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  Rng rng(o.seed);
  std::vector<float> params(static_cast<size_t>(cell.param_count()));  // flat
  cell.init_params(params, o.seed);
  // A little noise on top of the plugin's own init so that zero-initialised parts (biases)
  // are exercised away from zero too.
  for (auto& p : params) p += rng.uniform1(0.1f);
  auto src = rng.uniform(T * N * I, 1.0f);                  // (T, N, I)
  auto state_in = rng.uniform(S * N * H, 0.5f);             // (S, N, H)
  const auto w = rng.uniform(T * N * H, 1.0f);              // (T, N, H) = diff_dst
  const auto v = rng.uniform(S * N * H, 1.0f);              // (S, N, H) = diff_state_out
  std::vector<float> dst(T * N * H), state_out(S * N * H);  // (T, N, H), (S, N, H)

  auto loss = [&]() {
    cell.forward(
        {T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 0, nullptr});
    double l = 0;
    for (size_t k = 0; k < dst.size(); ++k) l += double(w[k]) * dst[k];
    for (size_t k = 0; k < state_out.size(); ++k) l += double(v[k]) * state_out[k];
    return l;
  };

  std::vector<float> diff_params(params.size(), 0.0f);  // flat
  std::vector<float> diff_src(src.size());              // (T, N, I)
  std::vector<float> diff_state_in(state_in.size());    // (S, N, H)
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src.data(), state_in.data(), dst.data(), w.data(), v.data(),
                 diff_src.data(), diff_params.data(), diff_state_in.data(), nullptr});

  GradcheckResult r;
  // Checks d L / d buf[offset + k] for the tensor `what` of `count` elements.
  auto check_tensor = [&](std::vector<float>& buf, std::int64_t offset, std::int64_t count,
                          const std::vector<float>& analytic, const std::string& what) {
    std::vector<std::int64_t> idx;
    if (count <= o.max_per_tensor) {
      for (std::int64_t k = 0; k < count; ++k) idx.push_back(k);
    } else {
      for (std::int64_t k = 0; k < o.max_per_tensor; ++k)
        idx.push_back(static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(count)));
    }
    for (std::int64_t k : idx) {
      float& x = buf[static_cast<size_t>(offset + k)];
      const float x0 = x;
      x = x0 + o.eps;
      const float up = x;  // the perturbation actually applied, after float rounding
      const double lp = loss();
      x = x0 - o.eps;
      const float down = x;
      const double lm = loss();
      x = x0;
      const double numeric = (lp - lm) / (double(up) - double(down));
      const double a = analytic[static_cast<size_t>(offset + k)];
      const double rel =
          std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), o.floor});
      ++r.checked;
      if (!(rel <= r.max_rel_error)) {
        r.max_rel_error = rel;
        std::ostringstream s;
        s << "cell '" << cell.type() << "' (I=" << I << ", H=" << H << ", T=" << T << ", N=" << N
          << ") " << what << " index " << k << ": analytic " << a << ", numeric " << numeric
          << ", relative error " << rel;
        r.worst = s.str();
      }
    }
  };

  std::int64_t offset = 0;
  for (const auto& t : cell.params()) {
    check_tensor(params, offset, t.numel(), diff_params, "param '" + t.name + "'");
    offset += t.numel();
  }
  check_tensor(src, 0, T * N * I, diff_src, "src");
  for (std::int64_t s = 0; s < S; ++s)
    check_tensor(state_in, s * N * H, N * H, diff_state_in,
                 "initial state '" + cell.states()[static_cast<size_t>(s)] + "'");
  return r;
}

}  // namespace charnn::test
