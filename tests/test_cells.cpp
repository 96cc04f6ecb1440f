// Cells: the built-in elman and lstm plugins against a double-precision reference
// (cell_reference.hpp), closed-form cases, and the checks every discovered plugin must pass
// (finite-difference gradients, step and trace agreeing with forward, accumulation into
// diff_params). A new plugin dropped into the plugin directory or CHARNN_PLUGIN_PATH is checked
// by the generic cases with no new test code.
#include <catch2/catch.hpp>

#include <charnn/cell.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cell_reference.hpp"
#include "gradcheck.hpp"

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

TEST_CASE("cell plugins are discovered, including the built-in elman and lstm", "[cell]") {
  const auto names = all_cell_names();
  CAPTURE(names);
  CHECK(std::find(names.begin(), names.end(), "elman") != names.end());
  CHECK(std::find(names.begin(), names.end(), "lstm") != names.end());
}

TEST_CASE("built-in cells match the double-precision reference over shapes and two segments",
          "[cell][reference]") {
  const std::string name = GENERATE(as<std::string>{}, "elman", "lstm");
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
  cell.forward({T, N, params.data(), src1.data(), nullptr, dst1.data(), state1.data(), 1});
  cell.backward({T, N, params.data(), src1.data(), nullptr, dst1.data(), diff_dst1.data(),
                 diff_state_out1.data(), diff_src1.data(), diff_params.data(), diff_state1.data()});
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

  cell.forward({T, N, params.data(), src2.data(), state1.data(), dst2.data(), state2.data(), 1});
  cell.backward({T, N, params.data(), src2.data(), state1.data(), dst2.data(), diff_dst2.data(),
                 diff_state_out2.data(), diff_src2.data(), diff_params.data(), diff_state2.data()});
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

TEST_CASE("every cell plugin's gradients match finite differences", "[cell][gradcheck]") {
  const std::string name = GENERATE(from_range(all_cell_names()));
  const auto [T, N, I, H] = GENERATE(table<std::int64_t, std::int64_t, std::int64_t, std::int64_t>(
      {{1, 1, 1, 1}, {3, 2, 4, 5}, {4, 3, 6, 3}}));
  CAPTURE(name, T, N, I, H);
  charnn::Cell cell = registry().create_cell(name, I, H);
  charnn::test::GradcheckOptions opt;
  opt.T = T;
  opt.N = N;
  const auto r = charnn::test::gradcheck(cell, opt);
  INFO("worst: " << r.worst);
  CHECK(r.checked > 0);
  CHECK(r.max_rel_error < 1e-2);
}
