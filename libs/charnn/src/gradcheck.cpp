// The finite-difference gradient check. See gradcheck.hpp.
#include "charnn/gradcheck.hpp"

#include "cell_check_data.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace charnn {

using detail::Data;
using detail::Floats;
using detail::noisy_params;

GradcheckResult GradcheckReport::overall() const {
  GradcheckResult r = params;
  for (const GradcheckResult* p : {&input, &state}) {
    if (!(p->max_rel_error <= r.max_rel_error)) {
      r.max_rel_error = p->max_rel_error;
      r.worst = p->worst;
    }
  }
  r.checked = params.checked + input.checked + state.checked;
  for (const GradcheckResult* p : {&input, &state})
    r.tensors.insert(r.tensors.end(), p->tensors.begin(), p->tensors.end());
  return r;
}

GradcheckReport gradcheck(Cell& cell, const GradcheckOptions& o) {
  const std::int64_t T = o.T, N = o.N, I = cell.input_size(), H = cell.hidden_size();
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  Data rng(o.seed);
  Floats params = noisy_params(cell, o.seed, 0.1f);
  Floats src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  Floats state_in = rng.uniform(S * N * H, 0.5f);  // (S, N, H)
  const Floats w = rng.uniform(T * N * H, 1.0f);   // (T, N, H) = diff_dst
  const Floats v = rng.uniform(S * N * H, 1.0f);   // (S, N, H) = diff_state_out
  Floats dst(static_cast<std::size_t>(T * N * H)), state_out(state_in.size());

  auto loss = [&]() {
    cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 0,
                  nullptr});
    double l = 0;
    for (std::size_t k = 0; k < dst.size(); ++k) l += double(w[k]) * dst[k];
    for (std::size_t k = 0; k < state_out.size(); ++k) l += double(v[k]) * state_out[k];
    return l;
  };

  Floats diff_params(params.size(), 0.0f), diff_src(src.size()), diff_state_in(state_in.size());
  cell.forward(
      {T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src.data(), state_in.data(), dst.data(), w.data(), v.data(),
                 diff_src.data(), diff_params.data(), diff_state_in.data(), nullptr});

  // d L / d buf[offset + k] for the tensor `what` of `count` elements, into r.
  auto check_tensor = [&](GradcheckResult& r, Floats& buf, std::int64_t offset, std::int64_t count,
                          const Floats& analytic, const std::string& what) {
    std::vector<std::int64_t> idx;
    if (count <= o.max_per_tensor) {
      for (std::int64_t k = 0; k < count; ++k) idx.push_back(k);
    } else {
      for (std::int64_t k = 0; k < o.max_per_tensor; ++k)
        idx.push_back(static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(count)));
    }
    double tensor_worst = 0;
    for (std::int64_t k : idx) {
      float& x = buf[static_cast<std::size_t>(offset + k)];
      const float x0 = x;
      x = x0 + o.eps;
      const float up = x;  // the perturbation actually applied, after float rounding
      const double lp = loss();
      x = x0 - o.eps;
      const float down = x;
      const double lm = loss();
      x = x0;
      const double numeric = (lp - lm) / (double(up) - double(down));
      const double a = analytic[static_cast<std::size_t>(offset + k)];
      const double rel =
          std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), o.floor});
      ++r.checked;
      if (!(rel <= tensor_worst)) tensor_worst = rel;
      if (!(rel <= r.max_rel_error)) {
        r.max_rel_error = rel;
        std::ostringstream s;
        s << what << " index " << k << ": analytic " << a << ", numeric " << numeric << " (cell '"
          << cell.type() << "', I=" << I << ", H=" << H << ", T=" << T << ", N=" << N << ")";
        r.worst = s.str();
      }
    }
    r.tensors.emplace_back(what, tensor_worst);
  };

  GradcheckReport report;
  std::int64_t offset = 0;
  for (const auto& t : cell.params()) {
    check_tensor(report.params, params, offset, t.numel(), diff_params, "param '" + t.name + "'");
    offset += t.numel();
  }
  check_tensor(report.input, src, 0, T * N * I, diff_src, "src");
  for (std::int64_t s = 0; s < S; ++s)
    check_tensor(report.state, state_in, s * N * H, N * H, diff_state_in,
                 "initial state '" + cell.states()[static_cast<std::size_t>(s)] + "'");
  return report;
}

}  // namespace charnn
