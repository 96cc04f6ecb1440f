// `charnn check-cell` as a cell author runs it: the real program (CHARNN_EXE) on a built-in cell,
// on a plugin file, and on plugins built wrong on purpose (tests/plugins/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <string>

#include "training_support.hpp"

using charnn::test::run_command;

namespace {

const std::string kExe = CHARNN_EXE;
const std::string kWrong = std::string(CHARNN_TEST_PLUGIN_DIR) + "/wrong/charnn-cell-test_wrong_";

}  // namespace

TEST_CASE("check-cell passes a built-in cell and prints a row per check", "[cli][check-cell]") {
  std::string out;
  const int code = run_command(kExe + " check-cell --cell gru", out);
  INFO(out);
  CHECK(code == 0);
  CHECK_THAT(out, Catch::Contains("check-cell: gru 1.0.0"));
  for (const char* row : {"gradient: parameters", "gradient: input", "gradient: initial state",
                          "state carried across segments", "step equals forward",
                          "trace equals forward", "one-hot trace by index", "learns a tiny text"})
    CHECK_THAT(out, Catch::Contains(row));
  CHECK_THAT(out, Catch::Contains("checks passed"));
  CHECK_THAT(out, !Catch::Contains("FAIL"));
}

TEST_CASE("check-cell takes the cell from --plugin and fails a wrong one with exit 1",
          "[cli][check-cell]") {
  std::string out;
  const int code =
      run_command(kExe + " check-cell --no-learning --plugin " + kWrong + "gradient.so", out);
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("check-cell: test_wrong_gradient"));
  CHECK_THAT(out, Catch::Contains("FAIL"));
  CHECK_THAT(out, Catch::Contains("param 'b' index"));  // the worst element
  CHECK_THAT(out, Catch::Contains("also over the tolerance: param 'w_h'"));
  CHECK_THAT(out, Catch::Contains("checks failed"));
}

TEST_CASE("check-cell explains a missing plugin or cell", "[cli][check-cell]") {
  std::string out;
  CHECK(run_command(kExe + " check-cell --plugin /nonexistent/libnothing.so", out) == 1);
  CHECK_THAT(out, Catch::Contains("error"));
  CHECK(run_command(kExe + " check-cell --cell nosuchcell", out) == 1);
  CHECK_THAT(out, Catch::Contains("nosuchcell"));
  CHECK(run_command(kExe + " check-cell", out) == 1);
  CHECK_THAT(out, Catch::Contains("--plugin FILE or --cell NAME"));
}
