// The checks of a cell plugin. See cell_checks.hpp.
#include "charnn/cell_checks.hpp"

#include "cell_check_data.hpp"

#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/optimizer.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/random.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace charnn {

namespace {

using detail::Data;
using detail::Floats;
using detail::noisy_params;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// The largest |got - want| beyond atol + rtol |want|, as a check's row: worst is that error,
// tolerance the bound at the same element. NaN anywhere fails.
struct Comparison {
  double error = 0, tolerance = 0;
  std::string where;
  bool ok() const { return error <= tolerance; }
};

Comparison compare(const std::string& what, const Floats& got, const Floats& want, double atol,
                   double rtol) {
  Comparison c;
  if (got.size() != want.size()) {
    c.error = kNaN;
    c.where =
        what + ": " + std::to_string(got.size()) + " values against " + std::to_string(want.size());
    return c;
  }
  double worst_ratio = -1;
  for (std::size_t k = 0; k < got.size(); ++k) {
    const double err = std::abs(double(got[k]) - double(want[k]));
    const double tol = atol + rtol * std::abs(double(want[k]));
    const double ratio = err / tol;
    if (!(ratio <= worst_ratio)) {  // also NaN
      worst_ratio = ratio;
      c.error = err;
      c.tolerance = tol;
      c.where = what + "[" + std::to_string(k) + "]: " + num(got[k]) + " against " + num(want[k]);
    }
    if (std::isnan(ratio)) break;
  }
  return c;
}

// The worse of two comparisons (by error over tolerance).
Comparison worse(const Comparison& a, const Comparison& b) {
  const double ra = a.error / a.tolerance, rb = b.error / b.tolerance;
  if (std::isnan(ra)) return a;
  if (std::isnan(rb)) return b;
  return rb > ra ? b : a;
}

CellCheck row(std::string name, const Comparison& c) {
  return {std::move(name), c.error, c.tolerance, c.ok(), c.ok() ? std::string() : c.where};
}

// Where the first non-finite value of buf is, or "".
std::string first_non_finite(const std::string& what, const Floats& buf) {
  for (std::size_t k = 0; k < buf.size(); ++k)
    if (!std::isfinite(buf[k]))
      return what + "[" + std::to_string(k) + "] is " + (std::isnan(buf[k]) ? "NaN" : "infinite");
  return {};
}

// `rows` random one-hot rows of width I: as indices, and as the dense (rows, I) matrix.
std::pair<std::vector<std::int32_t>, Floats> one_hot(Data& d, std::int64_t rows, std::int64_t I) {
  std::vector<std::int32_t> index(static_cast<std::size_t>(rows));
  Floats dense(static_cast<std::size_t>(rows * I), 0.0f);
  for (std::size_t k = 0; k < index.size(); ++k) {
    index[k] = static_cast<std::int32_t>(d.next() % static_cast<std::uint64_t>(I));
    dense[k * static_cast<std::size_t>(I) + static_cast<std::size_t>(index[k])] = 1.0f;
  }
  return {index, dense};
}

// A cell's inputs for T steps of N streams from one seed.
struct Inputs {
  std::int64_t T, N, I, H, S;
  Floats params, src, state_in;
  Inputs(const Cell& cell, std::int64_t T_, std::int64_t N_, std::uint64_t seed)
      : T(T_),
        N(N_),
        I(cell.input_size()),
        H(cell.hidden_size()),
        S(static_cast<std::int64_t>(cell.states().size())) {
    params = noisy_params(cell, seed, 0.2f);
    Data d(seed + 1);
    src = d.uniform(T * N * I, 1.0f);
    state_in = d.uniform(S * N * H, 0.8f);
  }
};

// Inference forward: dst (T, N, H) then state_out (S, N, H) in one buffer pair.
std::pair<Floats, Floats> run_forward(Cell& cell, const Inputs& in, const float* src,
                                      const float* state_in, std::int64_t T) {
  Floats dst(static_cast<std::size_t>(T * in.N * in.H)), out(in.state_in.size());
  cell.forward({T, in.N, in.params.data(), src, state_in, dst.data(), out.data(), 0, nullptr});
  return {dst, out};
}

CellCheck describe(const PluginRegistry& plugins, std::string_view name,
                   const CellCheckOptions& o) {
  std::string detail;
  for (const auto& [I, H] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {o.input, o.hidden}, {65, 32}}) {
    Cell cell = plugins.create_cell(name, I, H);
    const std::string shape = "layer " + std::to_string(I) + " -> " + std::to_string(H) + ": ";
    if (cell.param_count() < 1)
      return {"create and describe", kNaN, kNaN, false, shape + "no parameters"};
    std::set<std::string> seen;
    for (const auto& t : cell.params())
      if (t.name.empty() || !seen.insert(t.name).second)
        return {"create and describe", kNaN, kNaN, false,
                shape + "parameter tensor names must be distinct and not empty ('" + t.name + "')"};
    if (cell.states().empty())
      return {"create and describe", kNaN, kNaN, false, shape + "no state tensors"};
    Floats a(static_cast<std::size_t>(cell.param_count())), b(a.size());
    cell.init_params(a, 7);
    cell.init_params(b, 7);
    if (a != b)
      return {"create and describe", kNaN, kNaN, false,
              shape + "init_params gives different values for the same seed"};
    if (const std::string bad = first_non_finite("init_params: parameter", a); !bad.empty())
      return {"create and describe", kNaN, kNaN, false, shape + bad};
    if (I == o.input && H == o.hidden) {
      for (std::size_t k = 0; k < cell.params().size(); ++k) {
        detail += (k ? ", " : "") + cell.params()[k].name + " (";
        for (std::size_t d = 0; d < cell.params()[k].dims.size(); ++d)
          detail += (d ? ", " : "") + std::to_string(cell.params()[k].dims[d]);
        detail += ")";
      }
      detail += "; states";
      for (const auto& s : cell.states()) detail += " " + s;
      detail += "; signals";
      for (const auto& s : cell.signals()) detail += " " + s;
    }
  }
  return {"create and describe", kNaN, kNaN, true, detail};
}

CellCheck finite(Cell& cell, const CellCheckOptions& o) {
  const Inputs in(cell, o.T, o.N, o.seed);
  Floats dst(static_cast<std::size_t>(o.T * o.N * in.H)), out(in.state_in.size());
  cell.forward({o.T, o.N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(),
                out.data(), 1, nullptr});
  Data d(o.seed + 2);
  const Floats w = d.uniform(static_cast<std::int64_t>(dst.size()), 1.0f);
  Floats dparams(in.params.size(), 0.0f), dsrc(in.src.size()), dstate(in.state_in.size());
  cell.backward({o.T, o.N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(),
                 w.data(), nullptr, dsrc.data(), dparams.data(), dstate.data(), nullptr});
  const std::vector<std::pair<std::string, const Floats*>> outputs = {
      {"forward dst", &dst},
      {"forward state_out", &out},
      {"backward diff_params", &dparams},
      {"backward diff_src", &dsrc},
      {"backward diff_state_in", &dstate}};
  for (const auto& [what, buf] : outputs)
    if (const std::string bad = first_non_finite(what, *buf); !bad.empty())
      return {"finite outputs", kNaN, kNaN, false, bad + " for finite inputs"};
  return {"finite outputs", kNaN, kNaN, true, {}};
}

CellCheck gradient_row(std::string name, const GradcheckResult& r) {
  constexpr double kTolerance = 1e-2;
  const bool ok = r.max_rel_error <= kTolerance;
  if (ok)
    return {std::move(name), r.max_rel_error, kTolerance, ok,
            std::to_string(r.checked) + " elements"};
  // The worst element first, then every other tensor that is wrong too: one bug must not hide
  // another.
  std::string detail = r.worst, others;
  for (const auto& [what, worst] : r.tensors)
    if (!(worst <= kTolerance) && r.worst.rfind(what + " ", 0) != 0) {
      char e[32];
      std::snprintf(e, sizeof e, "%.2e", worst);
      others += (others.empty() ? "" : ", ") + what + " (worst " + e + ")";
    }
  if (!others.empty()) detail += "; also over the tolerance: " + others;
  return {std::move(name), r.max_rel_error, kTolerance, ok, detail};
}

// Two segments with the state carried between them are one sequence of 2T steps.
CellCheck carry(Cell& cell, const CellCheckOptions& o) {
  const Inputs in(cell, 2 * o.T, o.N, o.seed + 3);
  const std::int64_t half = o.T * o.N * in.I;
  const auto [dst1, state1] = run_forward(cell, in, in.src.data(), in.state_in.data(), o.T);
  const auto [dst2, state2] = run_forward(cell, in, in.src.data() + half, state1.data(), o.T);
  const auto [whole, whole_state] =
      run_forward(cell, in, in.src.data(), in.state_in.data(), 2 * o.T);
  const Floats tail(whole.begin() + static_cast<std::ptrdiff_t>(dst1.size()), whole.end());
  // The host may carry the state in place (state_in == state_out): the second segment again so.
  Floats in_place = state1, dst3(dst2.size());
  cell.forward({o.T, o.N, in.params.data(), in.src.data() + half, in_place.data(), dst3.data(),
                in_place.data(), 0, nullptr});
  return row("state carried across segments",
             worse(worse(compare("second segment dst", dst2, tail, 2e-6, 1e-5),
                         compare("final state", state2, whole_state, 2e-6, 1e-5)),
                   worse(compare("second segment dst, state carried in place", dst3, tail, 2e-6,
                                 1e-5),
                         compare("final state, carried in place", in_place, whole_state, 2e-6,
                                 1e-5))));
}

// T calls of step() are forward over T steps, with a dense input and with one given by index.
CellCheck step_matches(Cell& cell, const CellCheckOptions& o) {
  const Inputs in(cell, o.T, o.N, o.seed + 4);
  const std::int64_t NH = o.N * in.H;
  const auto [dst, out] = run_forward(cell, in, in.src.data(), in.state_in.data(), o.T);
  Floats state = in.state_in, sdst(dst.size());
  for (std::int64_t t = 0; t < o.T; ++t)
    cell.step({o.N, in.params.data(), in.src.data() + t * o.N * in.I, nullptr, state.data(),
               sdst.data() + t * NH});
  Comparison c = worse(compare("step dst", sdst, dst, 2e-6, 1e-5),
                       compare("state after the steps", state, out, 2e-6, 1e-5));
  // One-hot rows, given by index to step() and dense to forward.
  Data d(o.seed + 5);
  const auto [index, onehot] = one_hot(d, o.T * o.N, in.I);
  const auto [odst, oout] = run_forward(cell, in, onehot.data(), in.state_in.data(), o.T);
  state = in.state_in;
  for (std::int64_t t = 0; t < o.T; ++t)
    cell.step({o.N, in.params.data(), nullptr, index.data() + t * o.N, state.data(),
               sdst.data() + t * NH});
  c = worse(c, compare("one-hot step dst", sdst, odst, 2e-6, 1e-5));
  c = worse(c, compare("one-hot state after the steps", state, oout, 2e-6, 1e-5));
  return row("step equals forward", c);
}

// Training with the input given by index (where offered) equals training on dense one-hot rows.
CellCheck index_input(const PluginRegistry& plugins, std::string_view name,
                      const CellCheckOptions& o) {
  Cell dense = plugins.create_cell(name, o.input, o.hidden);
  Cell by_index = plugins.create_cell(name, o.input, o.hidden);
  if (!by_index.set_index_input(true))
    return {"one-hot input by index", kNaN, kNaN, true, "not offered: the host passes dense rows"};
  const Inputs in(dense, o.T, o.N, o.seed + 6);
  Data d(o.seed + 7);
  const auto [index, onehot] = one_hot(d, o.T * o.N, in.I);
  const Floats w = d.uniform(o.T * o.N * in.H, 1.0f);
  auto train = [&](Cell& cell, const float* src, const std::int32_t* idx) {
    Floats dst(w.size()), dparams(in.params.size(), 0.0f);
    cell.forward(
        {o.T, o.N, in.params.data(), src, in.state_in.data(), dst.data(), nullptr, 1, idx});
    cell.backward({o.T, o.N, in.params.data(), src, in.state_in.data(), dst.data(), w.data(),
                   nullptr, nullptr, dparams.data(), nullptr, idx});
    return std::pair{dst, dparams};
  };
  const auto [ddst, dgrad] = train(dense, onehot.data(), nullptr);
  const auto [idst, igrad] = train(by_index, nullptr, index.data());
  return row("one-hot input by index", worse(compare("dst", idst, ddst, 2e-6, 1e-5),
                                             compare("diff_params", igrad, dgrad, 1e-6, 1e-5)));
}

// A trace with the input given by index (where offered) equals one on dense one-hot rows.
CellCheck trace_index_input(const PluginRegistry& plugins, std::string_view name,
                            const CellCheckOptions& o) {
  const char* what = "one-hot trace by index";
  Cell dense = plugins.create_cell(name, o.input, o.hidden);
  Cell by_index = plugins.create_cell(name, o.input, o.hidden);
  if (!by_index.set_trace_index_input(true))
    return {what, kNaN, kNaN, true, "not offered: the host passes dense rows"};
  const Inputs in(dense, o.T, o.N, o.seed + 9);
  Data d(o.seed + 10);
  const auto [index, onehot] = one_hot(d, o.T * o.N, in.I);
  const auto K = static_cast<std::int64_t>(dense.signals().size());
  auto trace = [&](Cell& cell, const float* src, const std::int32_t* idx) {
    Floats dst(static_cast<std::size_t>(o.T * o.N * in.H)), out(in.state_in.size());
    Floats signals(static_cast<std::size_t>(K) * dst.size(), -7.0f);
    cell.trace({o.T, o.N, in.params.data(), src, in.state_in.data(), dst.data(), out.data(),
                signals.data(), idx});
    return std::tuple{dst, out, signals};
  };
  const auto [ddst, dout, dsig] = trace(dense, onehot.data(), nullptr);
  const auto [idst, iout, isig] = trace(by_index, nullptr, index.data());
  return row(what, worse(worse(compare("dst", idst, ddst, 2e-6, 1e-5),
                               compare("state_out", iout, dout, 2e-6, 1e-5)),
                         compare("signals", isig, dsig, 2e-6, 1e-5)));
}

CellCheck trace_matches(Cell& cell, const CellCheckOptions& o) {
  const Inputs in(cell, o.T, o.N, o.seed + 8);
  const auto [dst, out] = run_forward(cell, in, in.src.data(), in.state_in.data(), o.T);
  const std::int64_t K = static_cast<std::int64_t>(cell.signals().size());
  const std::size_t TNH = dst.size();
  Floats tdst(TNH), tout(out.size()), signals(static_cast<std::size_t>(K) * TNH, -7.0f);
  cell.trace({o.T, o.N, in.params.data(), in.src.data(), in.state_in.data(), tdst.data(),
              tout.data(), signals.data(), nullptr});
  Comparison c = worse(compare("trace dst", tdst, dst, 2e-6, 1e-5),
                       compare("trace state_out", tout, out, 2e-6, 1e-5));
  for (std::int64_t k = 0; k < K; ++k) {
    const auto begin = signals.begin() + static_cast<std::ptrdiff_t>(k * TNH);
    const Floats sig(begin, begin + static_cast<std::ptrdiff_t>(TNH));
    const std::string signal = cell.signals()[static_cast<std::size_t>(k)];
    if (const std::string bad = first_non_finite("signal '" + signal + "'", sig); !bad.empty())
      return {"trace equals forward", kNaN, 0, false, bad + " (or not written)"};
    if (signal == "h") c = worse(c, compare("signal 'h'", sig, dst, 2e-6, 1e-5));
  }
  return row("trace equals forward", c);
}

// The ABI adds gradients into diff_params: two backward passes give twice one.
CellCheck accumulates(Cell& cell, const CellCheckOptions& o) {
  const Inputs in(cell, o.T, o.N, o.seed + 9);
  Data d(o.seed + 10);
  const Floats w = d.uniform(o.T * o.N * in.H, 1.0f);
  Floats dst(w.size()), once(in.params.size(), 0.0f), twice(in.params.size(), 0.0f);
  auto pass = [&](Floats& into) {
    cell.forward({o.T, o.N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(),
                  nullptr, 1, nullptr});
    cell.backward({o.T, o.N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(),
                   w.data(), nullptr, nullptr, into.data(), nullptr, nullptr});
  };
  pass(once);
  pass(twice);
  pass(twice);
  for (auto& x : once) x *= 2;
  return row("backward adds into diff_params",
             compare("diff_params after two passes", twice, once, 1e-6, 1e-5));
}

// Forward and backward on one thread and on several give the same numbers, up to the order of
// additions in a matrix product.
CellCheck threads(const PluginRegistry& plugins, std::string_view name, const CellCheckOptions& o) {
  const std::int64_t T = 5, N = 7, I = 17, H = 33;
  const int before = get_threads();
  auto run = [&](int n) {
    set_threads(n);
    Cell cell = plugins.create_cell(name, I, H);
    const Inputs in(cell, T, N, o.seed + 11);
    Data d(o.seed + 12);
    const Floats w = d.uniform(T * N * H, 1.0f);
    Floats dst(w.size()), dparams(in.params.size(), 0.0f);
    cell.forward({T, N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(), nullptr, 1,
                  nullptr});
    cell.backward({T, N, in.params.data(), in.src.data(), in.state_in.data(), dst.data(), w.data(),
                   nullptr, nullptr, dparams.data(), nullptr, nullptr});
    return std::pair{dst, dparams};
  };
  std::pair<Floats, Floats> one, many;
  try {
    one = run(1);
    many = run(std::max(2, before));
  } catch (...) {
    set_threads(before);
    throw;
  }
  set_threads(before);
  CellCheck r = row("same on 1 and " + std::to_string(std::max(2, before)) + " threads",
                    worse(compare("dst", many.first, one.first, 1e-6, 1e-5),
                          compare("diff_params", many.second, one.second, 1e-6, 1e-4)));
  return r;
}

// A one-layer model of this cell learns a short repeating text: its loss must fall well below
// where it starts within 150 Adam steps.
CellCheck learns(const PluginRegistry& plugins, std::string_view name, const CellCheckOptions& o) {
  constexpr double kMostRatio = 0.6;  // last losses / first loss
  std::string text;
  for (int k = 0; k < 12; ++k) text += "the quick brown fox jumps over the lazy dog. ";
  std::vector<std::int32_t> ids;
  std::vector<char> units;
  for (const char ch : text) {
    auto it = std::find(units.begin(), units.end(), ch);
    if (it == units.end()) it = units.insert(units.end(), ch);
    ids.push_back(static_cast<std::int32_t>(it - units.begin()));
  }
  ModelConfig mc;
  mc.cells = {std::string(name)};
  mc.hidden = 32;
  mc.vocab_size = static_cast<std::int32_t>(units.size());
  Model model(mc, plugins);
  model.init_params(o.seed);
  OptimizerConfig oc;
  Optimizer adam(oc, static_cast<std::int64_t>(model.params().size()));
  const std::int64_t T = 16, N = 8, steps = 150, L = static_cast<std::int64_t>(ids.size());
  Model::State state = model.zero_state(N);
  std::vector<std::int32_t> inputs(T * N), targets(T * N);
  double first = kNaN, last = 0;
  constexpr std::int64_t kLast = 20;
  for (std::int64_t s = 0; s < steps; ++s) {
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t p = (n * (L / N) + s * T + t) % (L - 1);
        inputs[static_cast<std::size_t>(t * N + n)] = ids[static_cast<std::size_t>(p)];
        targets[static_cast<std::size_t>(t * N + n)] = ids[static_cast<std::size_t>(p + 1)];
      }
    const double loss =
        model.train_step(inputs, targets, T, state, o.seed + static_cast<std::uint64_t>(s));
    if (!std::isfinite(loss))
      return {"learns a tiny text", kNaN, kMostRatio, false,
              "the loss is " + num(loss) + " at step " + std::to_string(s + 1)};
    if (s == 0) first = loss;
    if (s >= steps - kLast) last += loss / kLast;
    clip_by_global_norm(model.grads(), 5.0);
    adam.step(model.params(), model.grads(), 1e-2);
  }
  const double ratio = last / first;
  return {"learns a tiny text", ratio, kMostRatio, ratio <= kMostRatio,
          "loss " + num(first) + " -> " + num(last) + " nats/unit in " + std::to_string(steps) +
              " Adam steps (1 layer of 32, " + std::to_string(units.size()) + "-unit text)"};
}

}  // namespace

std::vector<CellCheck> check_cell(const PluginRegistry& plugins, std::string_view name,
                                  const CellCheckOptions& o) {
  std::vector<CellCheck> rows;
  // A check that throws fails with the plugin's message; the others still run.
  auto run = [&](const std::string& label, const std::function<void()>& body) {
    try {
      body();
    } catch (const std::exception& e) {
      rows.push_back({label, kNaN, kNaN, false, e.what()});
    }
  };
  // Each check on a fresh layer, so that one's failure cannot leave state for the next.
  using LayerCheck = CellCheck (*)(Cell&, const CellCheckOptions&);
  auto on_layer = [&](const std::string& label, LayerCheck check) {
    run(label, [&] {
      Cell c = plugins.create_cell(name, o.input, o.hidden);
      rows.push_back(check(c, o));
    });
  };
  run("create and describe", [&] { rows.push_back(describe(plugins, name, o)); });
  on_layer("finite outputs", finite);
  run("gradient", [&] {
    Cell c = plugins.create_cell(name, o.input, o.hidden);
    const GradcheckReport r = gradcheck(c, {.T = o.T, .N = o.N, .seed = o.seed});
    rows.push_back(gradient_row("gradient: parameters", r.params));
    rows.push_back(gradient_row("gradient: input", r.input));
    rows.push_back(gradient_row("gradient: initial state", r.state));
  });
  on_layer("state carried across segments", carry);
  on_layer("step equals forward", step_matches);
  run("one-hot input by index", [&] { rows.push_back(index_input(plugins, name, o)); });
  on_layer("trace equals forward", trace_matches);
  run("one-hot trace by index", [&] { rows.push_back(trace_index_input(plugins, name, o)); });
  on_layer("backward adds into diff_params", accumulates);
  run("thread counts", [&] { rows.push_back(threads(plugins, name, o)); });
  if (o.learning) run("learns a tiny text", [&] { rows.push_back(learns(plugins, name, o)); });
  return rows;
}

}  // namespace charnn
