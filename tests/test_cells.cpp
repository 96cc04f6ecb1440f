// Cells: the built-in elman, lstm and gru plugins against a double-precision reference
// (cell_reference.hpp), closed-form cases, and the checks every discovered plugin must pass
// (charnn::check_cell, which `charnn check-cell` runs too: finite-difference gradients, step and
// trace agreeing with forward, accumulation into diff_params, learning). A new plugin dropped
// into the plugin directory or CHARNN_PLUGIN_PATH is checked by the generic cases with no new
// test code; plugins built wrong on purpose show that the checks catch what they claim to.
#include <catch2/catch.hpp>

#include <charnn/cell.hpp>
#include <charnn/cell_checks.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cell_reference.hpp"
#include "test_data.hpp"

using Catch::Matchers::WithinAbs;
using charnn::test::RefKind;
using charnn::test::RefShape;

namespace {

// The built-in plugin directory plus CHARNN_PLUGIN_PATH, loaded once for the whole run.
const charnn::PluginRegistry& registry() {
  static const charnn::PluginRegistry reg = [] {
    charnn::PluginSearch search;
    search.use_default_dir = false;
    search.use_env = true;
    // The built-in directory is given file by file so a broken built-in fails loudly instead
    // of being skipped.
    if (!std::filesystem::is_directory(CHARNN_PLUGIN_DIR))
      FAIL(CHARNN_PLUGIN_DIR
           " does not exist: build the plugins too (cmake --build <dir>, "
           "or --target charnn_cell_elman charnn_cell_lstm charnn_cell_gru)");
    for (const auto& e : std::filesystem::directory_iterator(CHARNN_PLUGIN_DIR))
      if (e.path().extension() == ".so") search.files.push_back(e.path());
    std::sort(search.files.begin(), search.files.end());
    return charnn::PluginRegistry::discover(search);
  }();
  return reg;
}

std::vector<std::string> all_cell_names() {
  std::vector<std::string> names;
  for (const auto& p : registry().plugins()) names.push_back(p->name());
  return names;
}

// Largest |got - want| relative to atol + rtol*|want|, reported at its worst element so a
// failure names the tensor, the index and both values.
template <class A, class B>
void expect_close(const std::string& what, const A& got, const B& want, double atol, double rtol) {
  REQUIRE(got.size() == want.size());
  size_t worst = 0;
  double worst_ratio = -1;
  for (size_t k = 0; k < got.size(); ++k) {
    const double ratio =
        std::abs(double(got[k]) - double(want[k])) / (atol + rtol * std::abs(double(want[k])));
    if (!(ratio <= worst_ratio)) {  // also catches NaN
      worst_ratio = ratio;
      worst = k;
    }
  }
  if (got.empty()) return;
  INFO(what << ": worst element " << worst << " of " << got.size() << ", got " << got[worst]
            << ", want " << want[worst]);
  CHECK_THAT(double(got[worst]),
             WithinAbs(double(want[worst]), atol + rtol * std::abs(double(want[worst]))));
}

std::vector<float> sum(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<float> r(a.size());
  for (size_t k = 0; k < a.size(); ++k) r[k] = float(a[k] + b[k]);
  return r;
}

}  // namespace

TEST_CASE("cell plugins are discovered, including the built-in elman, lstm and gru", "[cell]") {
  const auto names = all_cell_names();
  CAPTURE(names);
  CHECK(std::find(names.begin(), names.end(), "elman") != names.end());
  CHECK(std::find(names.begin(), names.end(), "lstm") != names.end());
  CHECK(std::find(names.begin(), names.end(), "gru") != names.end());
}

TEST_CASE("built-in cells match the double-precision reference over shapes and two segments",
          "[cell][reference]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{1, 1, 1, 1}, {3, 2, 5, 7}, {7, 3, 4, 9}, {20, 4, 17, 16}, {2, 5, 65, 3}}));
  CAPTURE(name, T, N, I, H);
  const RefShape rs{charnn::test::ref_kind(name), T, N, I, H};
  charnn::Cell cell = registry().create_cell(name, I, H);
  REQUIRE(cell.param_count() == rs.num_params());
  const std::int64_t S = rs.S(), P = rs.num_params();

  charnn::test::Rng rng(1234 + T * 7 + H);
  // Parameters from a wider range than init_params so gates saturate in places and biases
  // are not zero.
  const auto params = rng.uniform(P, 0.6f);                   // flat
  const auto src1 = rng.uniform(T * N * I, 1.0f);             // (T, N, I)
  const auto src2 = rng.uniform(T * N * I, 1.0f);             // (T, N, I)
  const auto diff_dst1 = rng.uniform(T * N * H, 1.0f);        // (T, N, H)
  const auto diff_dst2 = rng.uniform(T * N * H, 1.0f);        // (T, N, H)
  const auto diff_state_out1 = rng.uniform(S * N * H, 1.0f);  // (S, N, H)
  const auto diff_state_out2 = rng.uniform(S * N * H, 1.0f);  // (S, N, H)

  std::vector<float> dst1(T * N * H), dst2(T * N * H);                // (T, N, H)
  std::vector<float> state1(S * N * H), state2(S * N * H);            // (S, N, H)
  std::vector<float> diff_src1(T * N * I), diff_src2(T * N * I);      // (T, N, I)
  std::vector<float> diff_state1(S * N * H), diff_state2(S * N * H);  // (S, N, H)
  std::vector<float> diff_params(P, 0.0f);                            // accumulates both segments

  // Segment 1 starts from zeros (state_in NULL), segment 2 from segment 1's final state.
  cell.forward({T, N, params.data(), src1.data(), nullptr, dst1.data(), state1.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src1.data(), nullptr, dst1.data(), diff_dst1.data(),
                 diff_state_out1.data(), diff_src1.data(), diff_params.data(), diff_state1.data(), nullptr});
  const auto f1 = charnn::test::ref_forward(rs, params.data(), src1.data(), nullptr);
  const auto g1 = charnn::test::ref_backward(rs, params.data(), src1.data(), f1, diff_dst1.data(),
                                             diff_state_out1.data());
  // Float32 against double: the outputs are bounded by 1; the gradients are sums over T*N
  // steps and up to I+H terms, hence the relative part.
  expect_close("segment 1 dst", dst1, f1.dst, 2e-6, 1e-5);
  expect_close("segment 1 state_out", state1, f1.state_out, 2e-6, 1e-5);
  expect_close("segment 1 diff_src", diff_src1, g1.diff_src, 1e-5, 1e-4);
  expect_close("segment 1 diff_state_in", diff_state1, g1.diff_state_in, 1e-5, 1e-4);
  expect_close("segment 1 diff_params", diff_params, g1.diff_params, 1e-5, 1e-4);

  cell.forward({T, N, params.data(), src2.data(), state1.data(), dst2.data(), state2.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src2.data(), state1.data(), dst2.data(), diff_dst2.data(),
                 diff_state_out2.data(), diff_src2.data(), diff_params.data(), diff_state2.data(), nullptr});
  const auto f2 = charnn::test::ref_forward(rs, params.data(), src2.data(), state1.data());
  const auto g2 = charnn::test::ref_backward(rs, params.data(), src2.data(), f2, diff_dst2.data(),
                                             diff_state_out2.data());
  expect_close("segment 2 dst", dst2, f2.dst, 2e-6, 1e-5);
  expect_close("segment 2 state_out", state2, f2.state_out, 2e-6, 1e-5);
  expect_close("segment 2 diff_src", diff_src2, g2.diff_src, 1e-5, 1e-4);
  expect_close("segment 2 diff_state_in", diff_state2, g2.diff_state_in, 1e-5, 1e-4);
  expect_close("diff_params accumulated over both segments", diff_params,
               sum(g1.diff_params, g2.diff_params), 1e-5, 1e-4);

  // The two segments together are one sequence of 2T steps.
  RefShape whole = rs;
  whole.T = 2 * T;
  std::vector<float> src12 = src1;  // (2T, N, I)
  src12.insert(src12.end(), src2.begin(), src2.end());
  const auto f12 = charnn::test::ref_forward(whole, params.data(), src12.data(), nullptr);
  expect_close("segment 2 dst against the whole sequence", dst2,
               std::vector<double>(f12.dst.begin() + T * N * H, f12.dst.end()), 2e-6, 1e-5);
  expect_close("final state against the whole sequence", state2, f12.state_out, 2e-6, 1e-5);
}

TEST_CASE("built-in cells' inference forward matches the reference, also when split into chunks",
          "[cell][reference]") {
  // Many streams make the LSTM's inference run in chunks of steps (512 rows each): N = 200
  // gives chunks of 2, 2 and 1 steps, N = 600 one step each.
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{3, 2, 5, 7}, {5, 200, 3, 4}, {7, 130, 2, 5}, {3, 600, 2, 3}}));
  CAPTURE(name, T, N, I, H);
  const RefShape rs{charnn::test::ref_kind(name), T, N, I, H};
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t S = rs.S();
  charnn::test::Rng rng(99 + T + N);
  const auto params = rng.uniform(rs.num_params(), 0.6f);  // flat
  const auto src = rng.uniform(T * N * I, 1.0f);           // (T, N, I)
  const auto state_in = rng.uniform(S * N * H, 0.8f);      // (S, N, H)
  const auto f = charnn::test::ref_forward(rs, params.data(), src.data(), state_in.data());

  std::vector<float> dst(T * N * H), state = state_in;  // state carried in place
  cell.forward({T, N, params.data(), src.data(), state.data(), dst.data(), state.data(), 0, nullptr});
  expect_close("dst", dst, f.dst, 2e-6, 1e-5);
  expect_close("state_out", state, f.state_out, 2e-6, 1e-5);
}

TEST_CASE("every cell plugin's gradients match finite differences", "[cell][gradcheck]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{1, 1, 1, 1}, {3, 2, 4, 5}, {4, 3, 6, 3}}));
  CAPTURE(name, T, N, I, H);
  charnn::Cell cell = registry().create_cell(name, I, H);
  charnn::GradcheckOptions opt;
  opt.T = T;
  opt.N = N;
  const auto r = charnn::gradcheck(cell, opt).overall();
  INFO("worst: " << r.worst);
  CHECK(r.checked > 0);
  CHECK(r.max_rel_error < 1e-2);
}

TEST_CASE("every cell plugin passes every check of charnn check-cell", "[cell][check-cell]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  CAPTURE(name);
  const auto rows = charnn::check_cell(registry(), name);
  REQUIRE(rows.size() >= 11);
  for (const auto& r : rows) {
    INFO(r.name << ": worst " << r.worst << ", tolerance " << r.tolerance << "; " << r.detail);
    CHECK(r.passed);
  }
}

TEST_CASE("the example cells pass every check of charnn check-cell", "[cell][check-cell]") {
  charnn::PluginSearch search;
  search.use_default_dir = false;
  search.use_env = false;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(CHARNN_TEST_PLUGIN_DIR) / "examples"))
    search.files.push_back(e.path());
  const auto reg = charnn::PluginRegistry::discover(search);
  REQUIRE(reg.skipped().empty());
  REQUIRE_FALSE(reg.plugins().empty());
  for (const auto& plugin : reg.plugins()) {
    CAPTURE(plugin->name());
    for (const auto& r : charnn::check_cell(reg, plugin->name())) {
      INFO(r.name << ": worst " << r.worst << ", tolerance " << r.tolerance << "; " << r.detail);
      CHECK(r.passed);
    }
  }
}

TEST_CASE("check-cell catches a cell built wrong and says what is wrong", "[cell][check-cell]") {
  // tests/plugins: the linear test cell without its bias gradient and with half its W_h gradient
  // (the worse hides neither), ignoring its initial state, or writing a NaN.
  const auto [mistake, failing, says] = GENERATE(table<std::string, std::string, std::string>(
      {{"gradient", "gradient: parameters", "also over the tolerance: param 'w_h'"},
       {"state", "state carried across segments", "against"},
       {"nan", "finite outputs", "is NaN"}}));
  CAPTURE(mistake);
  charnn::PluginSearch search;
  search.use_default_dir = false;
  search.use_env = false;
  search.files = {std::filesystem::path(CHARNN_TEST_PLUGIN_DIR) / "wrong" /
                  ("charnn-cell-test_wrong_" + mistake + ".so")};
  const auto reg = charnn::PluginRegistry::discover(search);
  const auto rows = charnn::check_cell(reg, "test_wrong_" + mistake);
  const auto row = std::find_if(rows.begin(), rows.end(),
                                [&](const charnn::CellCheck& r) { return r.name == failing; });
  REQUIRE(row != rows.end());
  INFO(row->detail);
  CHECK_FALSE(row->passed);
  CHECK_THAT(row->detail, Catch::Contains(says));
  // The rest of the checks still ran.
  CHECK(rows.size() >= 11);
  CHECK(std::find_if(rows.begin(), rows.end(), [](const charnn::CellCheck& r) {
          return r.name == "create and describe";
        })->passed);
}

namespace {

// Parameters for the generic checks: the plugin's own init plus noise, so zero-initialised
// parts (biases) are exercised too.
std::vector<float> noisy_params(const charnn::Cell& cell, std::uint64_t seed) {
  std::vector<float> p(static_cast<size_t>(cell.param_count()));  // flat
  cell.init_params(p, seed);
  charnn::test::Rng rng(seed ^ 0xABCDu);
  for (auto& x : p) x += rng.uniform1(0.2f);
  return p;
}

// rows ids in [0, I) from rng.
std::vector<std::int32_t> random_columns(charnn::test::Rng& rng, std::int64_t rows,
                                         std::int64_t I) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(rows));
  for (auto& id : ids) id = static_cast<std::int32_t>(rng.next() % I);
  return ids;
}

// The dense one-hot rows (rows, I) with their 1 at ids.
std::vector<float> one_hot_rows(const std::vector<std::int32_t>& ids, std::int64_t I) {
  std::vector<float> src(ids.size() * static_cast<std::size_t>(I), 0.0f);
  for (std::size_t r = 0; r < ids.size(); ++r) src[r * static_cast<std::size_t>(I) + ids[r]] = 1;
  return src;
}

}  // namespace

TEST_CASE("every cell plugin's step matches forward over T steps, dense and one-hot",
          "[cell][step]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{1, 1, 1, 1}, {6, 3, 7, 5}, {5, 2, 65, 33}, {3, 11, 9, 6}}));
  CAPTURE(name, T, N, I, H);
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  const auto params = noisy_params(cell, 7);
  charnn::test::Rng rng(99);
  const auto state_in = rng.uniform(S * N * H, 0.8f);  // (S, N, H)

  SECTION("dense input") {
    const auto src = rng.uniform(T * N * I, 1.0f);  // (T, N, I)
    std::vector<float> dst(T * N * H), state_out(S * N * H);
    cell.forward(
        {T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 0, nullptr});
    std::vector<float> state = state_in, step_dst(T * N * H);  // (S, N, H), (T, N, H)
    for (std::int64_t t = 0; t < T; ++t)
      cell.step({N, params.data(), src.data() + t * N * I, nullptr, state.data(),
                 step_dst.data() + t * N * H});
    expect_close("step dst against forward dst", step_dst, dst, 2e-6, 1e-5);
    expect_close("state after T steps against forward state_out", state, state_out, 2e-6, 1e-5);
  }
  SECTION("one-hot input given as indices") {
    std::vector<std::int32_t> index(T * N);      // (T, N)
    std::vector<float> onehot(T * N * I, 0.0f);  // (T, N, I)
    for (std::int64_t k = 0; k < T * N; ++k) {
      index[k] = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(I));
      onehot[k * I + index[k]] = 1.0f;
    }
    std::vector<float> dst(T * N * H), state_out(S * N * H);
    cell.forward(
        {T, N, params.data(), onehot.data(), state_in.data(), dst.data(), state_out.data(), 0, nullptr});
    std::vector<float> state = state_in, step_dst(T * N * H);
    for (std::int64_t t = 0; t < T; ++t)
      cell.step({N, params.data(), nullptr, index.data() + t * N, state.data(),
                 step_dst.data() + t * N * H});
    expect_close("one-hot step dst against forward dst", step_dst, dst, 2e-6, 1e-5);
    expect_close("one-hot state after T steps against forward", state, state_out, 2e-6, 1e-5);
  }
}

TEST_CASE(
    "a prepared step matches the plain step: f32 to rounding, bf16 and int8 within 2e-2, 6e-2",
    "[cell][step][prepared]") {
  // bf16 rounds the weights and the matmul inputs to 8 significant bits (relative error 2^-9);
  // with K = I + H up to 161 products of |w| <= 0.5 that is ~1e-3 in a pre-activation, and
  // the tolerance allows for it growing over T = 4 recurrent steps (measured: 1.0e-2 at most).
  // int8 quantises weights per column and inputs per step to 8 bits (measured: 2.8e-2 at most).
  const std::string name = GENERATE(from_range(all_cell_names()));
  const auto [N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t>(
      {{1, 7, 5}, {1, 65, 96}, {3, 9, 33}, {11, 40, 64}}));
  const auto precision =
      GENERATE(CHARNN_PRECISION_F32, CHARNN_PRECISION_BF16, CHARNN_PRECISION_INT8);
  const bool dense = GENERATE(false, true);
  CAPTURE(name, N, I, H, precision, dense);
  const double atol = precision == CHARNN_PRECISION_F32    ? 2e-6
                      : precision == CHARNN_PRECISION_BF16 ? 2e-2
                                                           : 6e-2;
  const double rtol = precision == CHARNN_PRECISION_F32 ? 1e-5 : 0.0;
  const std::int64_t T = 4;
  charnn::Cell plain = registry().create_cell(name, I, H);
  charnn::Cell prepared = registry().create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(plain.states().size());
  auto params = noisy_params(plain, 11);
  charnn::test::Rng rng(5);
  const auto state_in = rng.uniform(S * N * H, 0.8f);  // (S, N, H)
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I), dense input
  std::vector<std::int32_t> index(T * N);              // (T, N), one-hot input
  for (auto& k : index) k = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(I));

  // T steps of `cell` from state_in; returns every step's dst (T, N, H) then the final state.
  auto run = [&](charnn::Cell& cell, const std::vector<float>& p) {
    std::vector<float> state = state_in, out(T * N * H + S * N * H);
    for (std::int64_t t = 0; t < T; ++t)
      cell.step({N, p.data(), dense ? src.data() + t * N * I : nullptr,
                 dense ? nullptr : index.data() + t * N, state.data(), out.data() + t * N * H});
    std::copy(state.begin(), state.end(), out.begin() + T * N * H);
    return out;
  };
  const auto want = run(plain, params);
  if (!prepared.prepare_step(params.data(), precision)) {
    // The prepared path is optional (a plugin may lack it, or bf16 on a CPU without it), but the
    // built-in cells always have f32.
    CHECK_FALSE(
        (precision == CHARNN_PRECISION_F32 && (name == "lstm" || name == "elman" || name == "gru")));
    WARN("cell '" << name << "' has no prepared step in precision " << precision << ": skipped");
    return;
  }
  const auto got = run(prepared, params);
  expect_close("prepared step against the plain step", got, want, atol, rtol);
  double worst = 0;
  for (std::size_t k = 0; k < got.size(); ++k)
    worst = std::max(worst, std::abs(double(got[k]) - double(want[k])));
  INFO("largest |prepared - plain| = " << worst);
  if (precision != CHARNN_PRECISION_F32) CHECK(worst > 0);  // really rounded something

  // The prepared copy is what step() reads: changing the host's weights afterwards (which the
  // contract forbids) does not show...
  for (auto& x : params) x *= 0.5f;
  CHECK(run(prepared, params) == got);
  // ...another params pointer reads its own weights...
  const auto halved = params;
  CHECK(run(prepared, halved) == run(plain, halved));
  // ...and after a release, step reads the (changed) host buffer again.
  prepared.release_step();
  CHECK(run(prepared, params) == run(plain, params));
  // Preparing again picks up the new weights.
  REQUIRE(prepared.prepare_step(params.data(), precision));
  expect_close("re-prepared step", run(prepared, params), run(plain, params), atol, rtol);
}

TEST_CASE("every cell plugin's trace agrees with forward", "[cell][trace]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  const std::int64_t T = 5, N = 3, I = 6, H = 7;
  CAPTURE(name);
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  const std::int64_t K = static_cast<std::int64_t>(cell.signals().size());
  const auto params = noisy_params(cell, 11);
  charnn::test::Rng rng(5);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  const auto state_in = rng.uniform(S * N * H, 0.8f);  // (S, N, H)
  std::vector<float> dst(T * N * H), state_out(S * N * H);
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 0, nullptr});

  std::vector<float> tdst(T * N * H), tstate(S * N * H);
  std::vector<float> signals(K * T * N * H, -7.0f);  // (K, T, N, H)
  cell.trace({T, N, params.data(), src.data(), state_in.data(), tdst.data(), tstate.data(),
              signals.data(), nullptr});
  expect_close("trace dst", tdst, dst, 2e-6, 1e-5);
  expect_close("trace state_out", tstate, state_out, 2e-6, 1e-5);
  const auto& names = cell.signals();
  const auto h = std::find(names.begin(), names.end(), "h");
  if (h != names.end()) {
    const std::int64_t k = h - names.begin();
    const std::vector<float> sig(signals.begin() + k * T * N * H,
                                 signals.begin() + (k + 1) * T * N * H);
    expect_close("trace signal h", sig, dst, 2e-6, 1e-5);
  }
  for (float v : signals) REQUIRE(std::isfinite(v));
}

TEST_CASE("lstm trace records c and the gates i, f, o, g as the reference computes them",
          "[cell][trace][lstm]") {
  const std::int64_t T = 4, N = 2, I = 5, H = 6;
  charnn::Cell cell = registry().create_cell("lstm", I, H);
  REQUIRE(cell.signals() == std::vector<std::string>{"h", "c", "i", "f", "o", "g"});
  const RefShape rs{RefKind::lstm, T, N, I, H};
  charnn::test::Rng rng(77);
  const auto params = rng.uniform(rs.num_params(), 0.6f);
  const auto src = rng.uniform(T * N * I, 1.0f);              // (T, N, I)
  const auto state_in = rng.uniform(2 * N * H, 0.8f);         // (2, N, H)
  std::vector<float> dst(T * N * H), signals(6 * T * N * H);  // (T, N, H), (6, T, N, H)
  cell.trace({T, N, params.data(), src.data(), state_in.data(), dst.data(), nullptr, signals.data(),
              nullptr});
  const auto f = charnn::test::ref_forward(rs, params.data(), src.data(), state_in.data());
  const std::int64_t TNH = T * N * H;
  // Reference layout: c (T+1, N, H) with c[0] the initial state; act (T, N, 4, H) as i, f, g, o.
  std::vector<double> want_c(f.c.begin() + N * H, f.c.end());
  std::vector<double> gate[4];
  for (auto& g : gate) g.resize(TNH);
  for (std::int64_t tn = 0; tn < T * N; ++tn)
    for (std::int64_t q = 0; q < 4; ++q)
      for (std::int64_t j = 0; j < H; ++j) gate[q][tn * H + j] = f.act[(tn * 4 + q) * H + j];
  auto sig = [&](std::int64_t k) {
    return std::vector<float>(signals.begin() + k * TNH, signals.begin() + (k + 1) * TNH);
  };
  expect_close("h", sig(0), f.dst, 2e-6, 1e-5);
  expect_close("c", sig(1), want_c, 2e-6, 1e-5);
  expect_close("i", sig(2), gate[0], 2e-6, 1e-5);
  expect_close("f", sig(3), gate[1], 2e-6, 1e-5);
  expect_close("o", sig(4), gate[3], 2e-6, 1e-5);
  expect_close("g", sig(5), gate[2], 2e-6, 1e-5);
}

TEST_CASE("gru trace records the gates r, z, n as the reference computes them",
          "[cell][trace][gru]") {
  const std::int64_t T = 4, N = 2, I = 5, H = 6;
  charnn::Cell cell = registry().create_cell("gru", I, H);
  REQUIRE(cell.signals() == std::vector<std::string>{"h", "r", "z", "n"});
  REQUIRE(cell.states() == std::vector<std::string>{"h"});
  const RefShape rs{RefKind::gru, T, N, I, H};
  charnn::test::Rng rng(78);
  const auto params = rng.uniform(rs.num_params(), 0.6f);
  const auto src = rng.uniform(T * N * I, 1.0f);              // (T, N, I)
  const auto state_in = rng.uniform(N * H, 0.8f);             // (1, N, H)
  std::vector<float> dst(T * N * H), signals(4 * T * N * H);  // (T, N, H), (4, T, N, H)
  cell.trace({T, N, params.data(), src.data(), state_in.data(), dst.data(), nullptr, signals.data(),
              nullptr});
  const auto f = charnn::test::ref_forward(rs, params.data(), src.data(), state_in.data());
  const std::int64_t TNH = T * N * H;
  std::vector<double> gate[3];  // the reference's act (T, N, 3, H) as r, z, n
  for (auto& g : gate) g.resize(TNH);
  for (std::int64_t tn = 0; tn < T * N; ++tn)
    for (std::int64_t q = 0; q < 3; ++q)
      for (std::int64_t j = 0; j < H; ++j) gate[q][tn * H + j] = f.act[(tn * 3 + q) * H + j];
  auto sig = [&](std::int64_t k) {
    return std::vector<float>(signals.begin() + k * TNH, signals.begin() + (k + 1) * TNH);
  };
  expect_close("h", sig(0), f.dst, 2e-6, 1e-5);
  expect_close("r", sig(1), gate[0], 2e-6, 1e-5);
  expect_close("z", sig(2), gate[1], 2e-6, 1e-5);
  expect_close("n", sig(3), gate[2], 2e-6, 1e-5);
}

TEST_CASE("elman with zero weights and bias b outputs tanh(b) at every step",
          "[cell][elman][closed-form]") {
  const std::int64_t T = 4, N = 2, I = 3, H = 5;
  charnn::Cell cell = registry().create_cell("elman", I, H);
  std::vector<float> params(cell.param_count(), 0.0f);
  float* b = params.data() + (I + H) * H;  // (H)
  for (std::int64_t j = 0; j < H; ++j) b[j] = -1.5f + 0.7f * float(j);
  charnn::test::Rng rng(3);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I): ignored with zero w_x
  const auto state_in = rng.uniform(N * H, 1.0f);      // (1, N, H): ignored with zero w_h
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);  // (T, N, H)
  const auto diff_out = rng.uniform(N * H, 1.0f);      // (1, N, H)
  std::vector<float> dst(T * N * H), state_out(N * H);
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 1, nullptr});
  for (std::int64_t k = 0; k < T * N * H; ++k)
    REQUIRE_THAT(dst[k], WithinAbs(std::tanh(double(b[k % H])), 1e-6));
  for (std::int64_t k = 0; k < N * H; ++k)
    REQUIRE_THAT(state_out[k], WithinAbs(std::tanh(double(b[k % H])), 1e-6));

  // d b_j = sum over t, n of (diff_dst + diff_state_out at the last step) * (1 - tanh(b_j)^2);
  // nothing flows to the input or the initial state.
  std::vector<float> diff_params(params.size(), 0.0f), diff_src(T * N * I, 9.0f),
      diff_state(N * H, 9.0f);
  cell.backward({T, N, params.data(), src.data(), state_in.data(), dst.data(), diff_dst.data(),
                 diff_out.data(), diff_src.data(), diff_params.data(), diff_state.data(), nullptr});
  for (std::int64_t j = 0; j < H; ++j) {
    double sum = 0;
    for (std::int64_t tn = 0; tn < T * N; ++tn) sum += diff_dst[tn * H + j];
    for (std::int64_t n = 0; n < N; ++n) sum += diff_out[n * H + j];
    const double th = std::tanh(double(b[j]));
    REQUIRE_THAT(diff_params[(I + H) * H + j], WithinAbs(sum * (1 - th * th), 1e-5));
  }
  for (float v : diff_src) REQUIRE(v == 0.0f);
  for (float v : diff_state) REQUIRE(v == 0.0f);
}

TEST_CASE("lstm with the forget gate on and the input gate off keeps c constant",
          "[cell][lstm][closed-form]") {
  const std::int64_t T = 6, N = 2, I = 3, H = 4;
  charnn::Cell cell = registry().create_cell("lstm", I, H);
  std::vector<float> params(cell.param_count(), 0.0f);
  float* b = params.data() + (I + H) * 4 * H;  // (4, H) as i, f, g, o
  const float bo = 0.7f;
  for (std::int64_t j = 0; j < H; ++j) {
    b[j] = -40.0f;        // i = sigmoid(-40) ~ 4e-18: nothing is written
    b[H + j] = 40.0f;     // f = 1: everything is kept
    b[2 * H + j] = 0.5f;  // g, irrelevant with i = 0
    b[3 * H + j] = bo;    // o = sigmoid(0.7)
  }
  charnn::test::Rng rng(8);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  auto state_in = rng.uniform(2 * N * H, 1.5f);        // (2, N, H): h, c
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);  // (T, N, H)
  const auto diff_out = rng.uniform(2 * N * H, 1.0f);  // (2, N, H)
  std::vector<float> dst(T * N * H), state_out(2 * N * H);
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 1, nullptr});
  const double o = 1.0 / (1.0 + std::exp(-double(bo)));
  const float* c0 = state_in.data() + N * H;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t k = 0; k < N * H; ++k)
      REQUIRE_THAT(dst[t * N * H + k], WithinAbs(o * std::tanh(double(c0[k])), 1e-6));
  for (std::int64_t k = 0; k < N * H; ++k) {
    REQUIRE_THAT(state_out[N * H + k], WithinAbs(c0[k], 1e-6));
    REQUIRE_THAT(state_out[k], WithinAbs(o * std::tanh(double(c0[k])), 1e-6));
  }

  // With f = 1 the gradient of the initial c is d c_T plus every step's
  // d h_t * o * (1 - tanh(c0)^2); h0 has no effect (w_h = 0).
  std::vector<float> diff_params(params.size(), 0.0f), diff_state(2 * N * H, 9.0f);
  cell.backward({T, N, params.data(), src.data(), state_in.data(), dst.data(), diff_dst.data(),
                 diff_out.data(), nullptr, diff_params.data(), diff_state.data(), nullptr});
  for (std::int64_t k = 0; k < N * H; ++k) {
    double dh = diff_out[k];
    for (std::int64_t t = 0; t < T; ++t) dh += diff_dst[t * N * H + k];
    const double tc = std::tanh(double(c0[k]));
    REQUIRE_THAT(diff_state[N * H + k],
                 WithinAbs(diff_out[N * H + k] + dh * o * (1 - tc * tc), 1e-5));
    REQUIRE(diff_state[k] == 0.0f);
  }
}

TEST_CASE("lstm with the input gate on and the forget gate off sets c to tanh(b_g)",
          "[cell][lstm][closed-form]") {
  const std::int64_t T = 3, N = 2, I = 2, H = 3;
  charnn::Cell cell = registry().create_cell("lstm", I, H);
  std::vector<float> params(cell.param_count(), 0.0f);
  float* b = params.data() + (I + H) * 4 * H;  // (4, H) as i, f, g, o
  for (std::int64_t j = 0; j < H; ++j) {
    b[j] = 40.0f;                            // i = 1
    b[H + j] = -40.0f;                       // f = 0: the old c is forgotten
    b[2 * H + j] = -0.8f + 0.6f * float(j);  // g = tanh(b_g)
    b[3 * H + j] = 40.0f;                    // o = 1
  }
  charnn::test::Rng rng(9);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  const auto state_in = rng.uniform(2 * N * H, 2.0f);  // (2, N, H)
  std::vector<float> dst(T * N * H), state_out(2 * N * H);
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 0, nullptr});
  for (std::int64_t k = 0; k < T * N * H; ++k) {
    const double c = std::tanh(double(b[2 * H + k % H]));
    REQUIRE_THAT(dst[k], WithinAbs(std::tanh(c), 1e-6));
  }
  for (std::int64_t k = 0; k < N * H; ++k)
    REQUIRE_THAT(state_out[N * H + k], WithinAbs(std::tanh(double(b[2 * H + k % H])), 1e-6));
}

TEST_CASE("every cell plugin adds its weight gradients into diff_params", "[cell][backward]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  CAPTURE(name);
  const std::int64_t T = 4, N = 2, I = 3, H = 5;
  charnn::Cell cell = registry().create_cell(name, I, H);
  const auto params = noisy_params(cell, 21);
  charnn::test::Rng rng(21);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);  // (T, N, H)
  std::vector<float> dst(T * N * H);
  auto fwd_bwd = [&](std::vector<float>& diff_params) {
    cell.forward({T, N, params.data(), src.data(), nullptr, dst.data(), nullptr, 1, nullptr});
    cell.backward({T, N, params.data(), src.data(), nullptr, dst.data(), diff_dst.data(), nullptr,
                   nullptr, diff_params.data(), nullptr, nullptr});
  };
  std::vector<float> once(params.size(), 0.0f), twice(params.size(), 0.0f);
  fwd_bwd(once);
  fwd_bwd(twice);
  fwd_bwd(twice);
  std::vector<double> want(once.size());
  for (size_t k = 0; k < once.size(); ++k) want[k] = 2.0 * once[k];
  expect_close("diff_params after two backward calls", twice, want, 1e-6, 1e-6);
  double norm = 0;
  for (float v : once) norm += std::abs(v);
  CHECK(norm > 0);
}

TEST_CASE("built-in cells refuse backward without a matching training forward, and bad indices",
          "[cell][errors]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  CAPTURE(name);
  const std::int64_t T = 3, N = 2, I = 4, H = 3;
  charnn::Cell cell = registry().create_cell(name, I, H);
  const auto params = noisy_params(cell, 1);
  std::vector<float> src(T * N * I, 0.5f), dst(T * N * H), diff_dst(T * N * H, 1.0f),
      diff_params(params.size(), 0.0f);
  const charnn_backward_args bwd{
      T,       N,       params.data(),      src.data(), nullptr, dst.data(), diff_dst.data(),
      nullptr, nullptr, diff_params.data(), nullptr, nullptr};
  CHECK_THROWS_WITH(cell.backward(bwd), Catch::Contains("no training forward"));
  cell.forward({T, N, params.data(), src.data(), nullptr, dst.data(), nullptr, 0, nullptr});
  CHECK_THROWS_WITH(cell.backward(bwd), Catch::Contains("no training forward"));
  cell.forward({T - 1, N, params.data(), src.data(), nullptr, dst.data(), nullptr, 1, nullptr});
  CHECK_THROWS_WITH(cell.backward(bwd), Catch::Contains("T=3, N=2"));
  cell.forward({T, N, params.data(), src.data(), nullptr, dst.data(), nullptr, 1, nullptr});
  CHECK_NOTHROW(cell.backward(bwd));

  std::vector<float> state(cell.states().size() * N * H, 0.0f), out(N * H);
  const std::int32_t bad[2] = {1, static_cast<std::int32_t>(I)};
  CHECK_THROWS_WITH(cell.step({N, params.data(), nullptr, bad, state.data(), out.data()}),
                    Catch::Contains("src_index[1] = 4"));
}

TEST_CASE("built-in cells initialise parameters deterministically in range", "[cell][init]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  CAPTURE(name);
  const std::int64_t I = 7, H = 16;
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t G = name == "lstm" ? 4 : name == "gru" ? 3 : 1;
  const std::int64_t biases = name == "gru" ? 2 : 1;  // the GRU's b_x and b_h
  REQUIRE(cell.param_count() == (I + H) * G * H + biases * G * H);
  std::vector<float> a(cell.param_count()), b(cell.param_count()), c(cell.param_count());
  cell.init_params(a, 5);
  cell.init_params(b, 5);
  cell.init_params(c, 6);
  CHECK(a == b);
  CHECK(a != c);
  const std::int64_t nw = (I + H) * G * H;
  double mean_abs = 0;
  for (std::int64_t k = 0; k < nw; ++k) {
    REQUIRE(std::abs(a[k]) <= 0.25f);  // 1/sqrt(16)
    mean_abs += std::abs(a[k]) / double(nw);
  }
  CHECK_THAT(mean_abs, WithinAbs(0.125, 0.02));  // uniform(-a, a) has mean |x| = a/2
  for (std::int64_t gh = 0; gh < biases * G * H; ++gh) {
    const bool forget = name == "lstm" && gh / H == 1;
    CHECK(a[nw + gh] == (forget ? 1.0f : 0.0f));
  }
}

TEST_CASE("built-in cells allow state and its gradient to be carried in place",
          "[cell][backward]") {
  // A trainer typically passes one state buffer as both state_in and state_out, and one
  // gradient buffer as both diff_state_out and diff_state_in.
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  CAPTURE(name);
  const std::int64_t T = 3, N = 2, I = 4, H = 5;
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  const auto params = noisy_params(cell, 4);
  charnn::test::Rng rng(4);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  const auto state0 = rng.uniform(S * N * H, 0.8f);    // (S, N, H)
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);  // (T, N, H)
  const auto diff_out = rng.uniform(S * N * H, 1.0f);  // (S, N, H)
  std::vector<float> dst(T * N * H), state_out(S * N * H), diff_state(S * N * H);
  std::vector<float> dp_sep(params.size(), 0.0f), dp_inplace(params.size(), 0.0f);
  cell.forward({T, N, params.data(), src.data(), state0.data(), dst.data(), state_out.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src.data(), state0.data(), dst.data(), diff_dst.data(),
                 diff_out.data(), nullptr, dp_sep.data(), diff_state.data(), nullptr});

  std::vector<float> state = state0, grad = diff_out, dst2(T * N * H);
  cell.forward({T, N, params.data(), src.data(), state.data(), dst2.data(), state.data(), 1, nullptr});
  cell.backward({T, N, params.data(), src.data(), state.data(), dst2.data(), diff_dst.data(),
                 grad.data(), nullptr, dp_inplace.data(), grad.data(), nullptr});
  CHECK(dst2 == dst);
  CHECK(state == state_out);
  CHECK(dp_inplace == dp_sep);
  CHECK(grad == diff_state);
}

TEST_CASE("built-in cells propagate NaN parameters through step instead of hiding them",
          "[cell][step]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  CAPTURE(name);
  const std::int64_t I = 3, H = 4;
  charnn::Cell cell = registry().create_cell(name, I, H);
  auto params = noisy_params(cell, 2);
  params[(I + H) * (name == "lstm" ? 4 : name == "gru" ? 3 : 1) * H] = std::nanf("");  // b[0]
  std::vector<float> state(cell.states().size() * H, 0.0f), dst(H);
  const std::int32_t idx = 1;
  cell.step({1, params.data(), nullptr, &idx, state.data(), dst.data()});
  CHECK(std::isnan(dst[0]));
}

TEST_CASE("the prepared step propagates NaN weights and states instead of hiding them",
          "[cell][step][prepared]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm", "gru");
  const auto precision =
      GENERATE(CHARNN_PRECISION_F32, CHARNN_PRECISION_BF16, CHARNN_PRECISION_INT8);
  CAPTURE(name, precision);
  const std::int64_t I = 3, H = 4, G = name == "lstm" ? 4 : name == "gru" ? 3 : 1;
  charnn::Cell cell = registry().create_cell(name, I, H);
  auto params = noisy_params(cell, 2);
  const std::int32_t idx = 1;
  std::vector<float> dst(H);
  {  // A NaN recurrent weight: int8 cannot quantise it and says so; the others carry it.
    auto bad = params;
    bad[I * G * H] = std::nanf("");  // w_h[0][0]
    std::vector<float> state(cell.states().size() * H, 0.5f);
    if (cell.prepare_step(bad.data(), precision)) {
      CHECK(precision != CHARNN_PRECISION_INT8);
      cell.step({1, bad.data(), nullptr, &idx, state.data(), dst.data()});
      CHECK(std::isnan(dst[0]));
    } else {
      CHECK(precision != CHARNN_PRECISION_F32);  // bf16 only where the CPU lacks it
    }
  }
  {                                                            // A NaN in the state.
    if (!cell.prepare_step(params.data(), precision)) return;  // not offered on this CPU
    std::vector<float> state(cell.states().size() * H, 0.5f);
    state[0] = std::nanf("");
    cell.step({1, params.data(), nullptr, &idx, state.data(), dst.data()});
    CHECK(std::isnan(dst[0]));
  }
}

TEST_CASE("bf16 training passes agree with f32 and accumulate; f32 comes back bit for bit",
          "[cell][backward][bf16]") {
  // bf16 rounds the matrix products' inputs to 8 significant bits (relative 2^-9 each); the
  // outputs, state and gradients may move by ~1e-2 of their scale, not more. Every vector is
  // compared as a whole (relative L2 error), which is what matters to the optimiser.
  const std::string name = GENERATE(from_range(all_cell_names()));
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{5, 3, 7, 16}, {8, 4, 65, 48}}));
  CAPTURE(name, T, N, I, H);
  charnn::Cell cell = registry().create_cell(name, I, H);
  const std::int64_t S = static_cast<std::int64_t>(cell.states().size());
  const auto params = noisy_params(cell, 31);
  charnn::test::Rng rng(31);
  const auto src = rng.uniform(T * N * I, 1.0f);       // (T, N, I)
  const auto state_in = rng.uniform(S * N * H, 0.8f);  // (S, N, H)
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);  // (T, N, H)
  // One training forward + backward; returns dst, state_out, diff_params, diff_src, diff_state_in.
  auto pass = [&](int repeats) {
    std::vector<float> dst(T * N * H), state_out(S * N * H), dparams(params.size(), 0.0f),
        dsrc(T * N * I), dstate(S * N * H);
    for (int r = 0; r < repeats; ++r) {
      cell.forward(
          {T, N, params.data(), src.data(), state_in.data(), dst.data(), state_out.data(), 1, nullptr});
      cell.backward({T, N, params.data(), src.data(), state_in.data(), dst.data(), diff_dst.data(),
                     nullptr, dsrc.data(), dparams.data(), dstate.data(), nullptr});
    }
    return std::vector<std::vector<float>>{dst, state_out, dparams, dsrc, dstate};
  };
  const auto f32 = pass(1);
  if (!cell.set_train_precision(CHARNN_PRECISION_BF16)) {
    WARN("cell '" << name << "' has no bf16 training here: not tested");
    return;
  }
  const auto bf16 = pass(1);
  const char* what[] = {"dst", "state_out", "diff_params", "diff_src", "diff_state_in"};
  for (std::size_t k = 0; k < f32.size(); ++k) {
    double err = 0, ref = 0;
    for (std::size_t i = 0; i < f32[k].size(); ++i) {
      err += std::pow(double(bf16[k][i]) - double(f32[k][i]), 2);
      ref += std::pow(double(f32[k][i]), 2);
    }
    const double rel = std::sqrt(err / ref);
    INFO(what[k] << ": relative L2 error of bf16 against f32 = " << rel);
    CHECK(rel < 2e-2);
    CHECK(rel > 0);  // bf16 really rounded something
  }
  // Weight gradients still accumulate: two passes give twice one pass.
  const auto twice = pass(2);
  std::vector<double> doubled(bf16[2].begin(), bf16[2].end());
  for (auto& v : doubled) v *= 2.0;
  expect_close("bf16 diff_params after two passes", twice[2], doubled, 1e-6, 1e-6);
  REQUIRE(cell.set_train_precision(CHARNN_PRECISION_F32));
  CHECK(pass(1) == f32);
  // Inference passes never round.
  std::vector<float> dst(T * N * H), want(T * N * H);
  cell.forward({T, N, params.data(), src.data(), state_in.data(), want.data(), nullptr, 0, nullptr});
  REQUIRE(cell.set_train_precision(CHARNN_PRECISION_BF16));
  cell.forward({T, N, params.data(), src.data(), state_in.data(), dst.data(), nullptr, 0, nullptr});
  CHECK(dst == want);
}

TEST_CASE("a one-hot input given by index trains exactly as the dense one-hot input does",
          "[cell][index]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  CAPTURE(name);
  const std::int64_t T = 5, N = 3, I = 7, H = 4;
  charnn::Cell dense = registry().create_cell(name, I, H);
  charnn::Cell indexed = registry().create_cell(name, I, H);
  if (!indexed.set_index_input(true)) {
    CHECK_FALSE(indexed.index_input());  // the host keeps giving this cell a dense src
    SUCCEED(name << " reads a dense src only");
    return;
  }
  CHECK(indexed.index_input());
  const auto params = noisy_params(dense, 5);
  charnn::test::Rng rng(5);
  std::vector<std::int32_t> ids = random_columns(rng, T * N, I);
  ids[0] = ids[1] = 2;  // a repeated id: its gradient rows add up
  const std::vector<float> src = one_hot_rows(ids, I);
  const auto state = rng.uniform(dense.states().size() * N * H, 0.5f);
  const auto diff_dst = rng.uniform(T * N * H, 1.0f);

  for (int training : {0, 1}) {
    CAPTURE(training);
    std::vector<float> dst_d(T * N * H), dst_i(T * N * H);
    std::vector<float> out_d(state.size()), out_i(state.size());
    charnn_forward_args a{T, N, params.data(), src.data(), state.data(), dst_d.data(),
                          out_d.data(), training, nullptr};
    dense.forward(a);
    a.src = nullptr;
    a.src_index = ids.data();
    a.dst = dst_i.data();
    a.state_out = out_i.data();
    indexed.forward(a);
    CHECK(dst_i == dst_d);  // a gather picks exactly the floats the product adds up
    CHECK(out_i == out_d);
    if (!training) continue;
    std::vector<float> g_d(params.size(), 0.0f), g_i(params.size(), 0.0f);
    dense.backward({T, N, params.data(), src.data(), state.data(), dst_d.data(), diff_dst.data(),
                    nullptr, nullptr, g_d.data(), nullptr, nullptr});
    indexed.backward({T, N, params.data(), nullptr, state.data(), dst_i.data(), diff_dst.data(),
                      nullptr, nullptr, g_i.data(), nullptr, ids.data()});
    std::vector<double> want(g_d.begin(), g_d.end());
    expect_close("diff_params by index against dense", g_i, want, 1e-6, 1e-5);
  }

  // Without its input, or with an id outside the input width, the call is refused.
  std::vector<float> dst(T * N * H);
  CHECK_THROWS_AS(indexed.forward({T, N, params.data(), src.data(), nullptr, dst.data(), nullptr,
                                   1, nullptr}),
                  charnn::error);
  ids[3] = static_cast<std::int32_t>(I);
  CHECK_THROWS_AS(indexed.forward({T, N, params.data(), nullptr, nullptr, dst.data(), nullptr, 1,
                                   ids.data()}),
                  charnn::error);
  // Switched off again, it reads src.
  REQUIRE(indexed.set_index_input(false));
  CHECK_NOTHROW(indexed.forward({T, N, params.data(), src.data(), nullptr, dst.data(), nullptr, 1,
                                 nullptr}));
}

TEST_CASE("a trace by index equals the trace of the dense one-hot input", "[cell][index][trace]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  CAPTURE(name);
  const std::int64_t T = 6, N = 3, I = 7, H = 4;
  charnn::Cell dense = registry().create_cell(name, I, H);
  charnn::Cell indexed = registry().create_cell(name, I, H);
  if (!indexed.set_trace_index_input(true)) {
    CHECK_FALSE(indexed.trace_index_input());  // the host keeps tracing it on a dense src
    SUCCEED(name << " traces a dense src only");
    return;
  }
  const auto params = noisy_params(dense, 6);
  charnn::test::Rng rng(6);
  std::vector<std::int32_t> ids = random_columns(rng, T * N, I);
  const std::vector<float> src = one_hot_rows(ids, I);
  const auto state = rng.uniform(dense.states().size() * N * H, 0.5f);
  const std::size_t K = dense.signals().size();
  std::vector<float> dst_d(T * N * H), dst_i(T * N * H), out_d(state.size()), out_i(state.size());
  std::vector<float> sig_d(K * T * N * H), sig_i(K * T * N * H, -7.0f);
  dense.trace({T, N, params.data(), src.data(), state.data(), dst_d.data(), out_d.data(),
               sig_d.data(), nullptr});
  const charnn_trace_args a{
      T,         N, params.data(), nullptr, state.data(), dst_i.data(), out_i.data(), sig_i.data(),
      ids.data()};
  indexed.trace(a);
  CHECK(dst_i == dst_d);  // a gather picks exactly the floats the product adds up
  CHECK(out_i == out_d);
  CHECK(sig_i == sig_d);
  ids[4] = static_cast<std::int32_t>(I);  // an id outside the input width is refused
  CHECK_THROWS_AS(indexed.trace(a), charnn::error);
}
