// The loss curves (loss_curves.hpp) from hand-made metrics rows, and metrics.csv read back
// (metrics_file.hpp): the SVG is well formed, fetches nothing, draws every row and marks the best
// validation and the whole split. Training writing curves.svg is checked in test_trainer.cpp.
#include <charnn/loss_curves.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/run_list.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "training_support.hpp"

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::vector<charnn::MetricsRow> rows() {
  std::vector<charnn::MetricsRow> r;
  const double nan = std::nan("");
  for (int i = 1; i <= 40; ++i) {
    // Training loss falls from 4 towards 1; validation every 10 rows, best at row 30.
    charnn::MetricsRow row{.iteration = i * 50,
                           .epoch = i * 0.1,
                           .seconds = i * 15.0,
                           .units = i * 160000,
                           .lr = 2e-3,
                           .train_loss = 1.0 + 3.0 / i,
                           .valid_loss = nan};
    if (i % 10 == 0) {
      row.valid_loss = i == 30 ? 1.20 : 1.25 + 0.01 * i / 10;
      row.valid_units = 20000;
    }
    r.push_back(row);
  }
  charnn::MetricsRow whole{.iteration = 2000,
                           .epoch = 4.0,
                           .seconds = 605,
                           .units = 6400000,
                           .lr = 2e-3,
                           .train_loss = nan,
                           .valid_loss = 1.31,
                           .valid_units = 300000,
                           .end_of_run = true};
  r.push_back(whole);
  return r;
}

}  // namespace

TEST_CASE("the loss curves draw every row, ring the best validation and mark the whole split",
          "[curves]") {
  const std::string svg = charnn::loss_curves_svg(rows());
  CHECK_THAT(svg, Catch::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_THAT(svg, Catch::EndsWith("</svg>"));
  // XML: every attribute quoted (a standalone .svg is parsed as XML), tags balanced.
  CHECK_FALSE(std::regex_search(svg, std::regex("=[^\"\\s>]")));
  for (const std::string tag : {"svg", "text", "tspan"})
    CHECK(count(svg, "<" + tag + ">") + count(svg, "<" + tag + " ") ==
          count(svg, "</" + tag + ">"));
  // Two panels, each with the training, validation and learning-rate lines.
  CHECK(count(svg, "<polyline") == 6);
  CHECK(count(svg, "r=\"2.5\"") == 2 * 4);  // four periodic validations per panel
  CHECK(count(svg, "r=\"6\"") == 2);        // the best, ringed in each panel
  CHECK_THAT(svg, Catch::Contains("best 1.2000") &&
                      Catch::Contains("end of run 1.3100 (300,000 validation units)"));
  CHECK_THAT(svg, Catch::Contains(">minutes<") && Catch::Contains(">units seen (millions)<"));
  // Inline in a page: no namespace URL, nothing fetched.
  const std::string inline_svg = charnn::loss_curves_svg(rows(), false);
  CHECK_FALSE(std::regex_search(inline_svg, std::regex("https?:|<script|href")));
  // Nothing to draw yet.
  CHECK_THAT(charnn::loss_curves_svg({}), Catch::Contains("no training rows yet"));
}

TEST_CASE("several runs share one chart, a colour and a legend row each", "[curves]") {
  auto second = rows();
  for (auto& r : second) r.valid_loss -= 0.05;  // NaN stays NaN
  const std::string svg = charnn::compare_curves_svg({{"base", rows()}, {"a<b", second}});
  CHECK_THAT(svg, Catch::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_FALSE(std::regex_search(svg, std::regex("=[^\"\\s>]")));
  for (const std::string tag : {"svg", "text"})
    CHECK(count(svg, "<" + tag + ">") + count(svg, "<" + tag + " ") ==
          count(svg, "</" + tag + ">"));
  CHECK(count(svg, "<polyline") == 2 * 2 * 2);  // two panels x two runs x training, validation
  CHECK(count(svg, "r=\"5\"") == 2 * 2);        // each run's best, ringed in each panel
  // The legend names each run (escaped) with its best; the whole split is not a "best".
  CHECK_THAT(svg, Catch::Contains(">base: best 1.2000 at 7.5 min of 10.0<") &&
                      Catch::Contains(">a&lt;b: best 1.1500 at 7.5 min"));
  CHECK_THAT(svg, Catch::Contains("#1f77b4") && Catch::Contains("#d62728"));
  CHECK_THAT(charnn::compare_curves_svg({{"empty", {}}}),
             Catch::Contains("no run has validated yet"));
}

TEST_CASE("metrics.csv reads back by column name, empty cells as NaN", "[curves]") {
  charnn::test::ScratchDir dir("metrics-read");
  charnn::test::write_file(dir / "metrics.csv",
                           "iteration,epoch,seconds,units,lr,train_loss,grad_norm,valid_loss,"
                           "valid_bits,units_per_second,valid_units\n"
                           "50,0.1,2.5,102400,0.01,3.2,1.1,,,40000,\n"
                           "100,0.2,5.0,204800,0.02,2.9,0.9,2.8,4.04,41000,20000\n"
                           "100,0.2,5.5,204800,0.02,,,2.7,3.9,41000,300000\n"
                           "oops\n");
  const charnn::MetricsFile m = charnn::read_metrics_file(dir / "metrics.csv");
  REQUIRE(m.rows.size() == 3);
  CHECK(std::isnan(m.rows[0].valid_loss));
  CHECK(m.rows[1].valid_loss == 2.8);
  CHECK(m.rows[1].valid_units == 20000);
  CHECK(std::isnan(m.rows[2].train_loss));
  CHECK(m.rows[2].units == 204800);
  CHECK(m.problem == "metrics.csv has a damaged row");
  CHECK(charnn::read_metrics_file(dir / "none.csv").problem == "no metrics.csv");
}

TEST_CASE("metrics.csv says which validation is the whole split at the end, also where its units "
          "equal the slice's; older files are told apart by units",
          "[curves]") {
  charnn::test::ScratchDir dir("metrics-validation");
  const std::string header =
      "iteration,epoch,seconds,units,lr,train_loss,grad_norm,valid_loss,valid_bits,"
      "units_per_second,valid_units,trained_valid_loss";
  // A small split rounds the whole of it to the slice's units (zh: 100,133 and 100,000 units
  // both score 98,304), and the end figure is the lowest: it must not pass for the best.
  charnn::test::write_file(dir / "new.csv", header + ",validation\n"
                                                     "50,0.1,2.5,102400,0.01,3.2,1.1,,,40000,,,\n"
                                                     "100,0.2,5,204800,0.02,2.9,0.9,2.8,4,41000,98304,,periodic\n"
                                                     "100,0.2,6,204800,0.02,,,2.7,3.9,41000,98304,,end\n");
  const charnn::MetricsFile m = charnn::read_metrics_file(dir / "new.csv");
  REQUIRE(m.rows.size() == 3);
  CHECK(m.problem.empty());
  CHECK_FALSE(m.rows[0].end_of_run);
  CHECK_FALSE(m.rows[1].end_of_run);
  CHECK(m.rows[2].end_of_run);
  const std::string svg = charnn::loss_curves_svg(m.rows);
  CHECK_THAT(svg, Catch::Contains("best 2.8000") &&
                      Catch::Contains("end of run 2.7000 (98,304 validation units)"));
  // charnn runs: the best is the periodic one.
  std::filesystem::create_directories(dir / "runs" / "r1");
  std::filesystem::copy_file(dir / "new.csv", dir / "runs" / "r1" / "metrics.csv");
  charnn::test::write_file(dir / "runs" / "r1" / "config.json", R"({"eval_units": 100000})");
  const auto runs = charnn::list_runs(dir / "runs");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].best_valid == 2.8);
  CHECK(runs[0].best_iteration == 100);

  // Before the column, and a resumed run's older rows under the new header.
  charnn::test::write_file(dir / "old.csv", header + "\n"
                                                     "100,0.2,5,204800,0.02,2.9,0.9,2.8,4,41000,20000,\n"
                                                     "100,0.2,6,204800,0.02,,,2.7,3.9,41000,300000,\n");
  charnn::test::write_file(dir / "resumed.csv", header + ",validation\n"
                                                         "100,0.2,5,204800,0.02,2.9,0.9,2.8,4,41000,20000,\n"
                                                         "100,0.2,6,204800,0.02,,,2.7,3.9,41000,300000,\n"
                                                         "200,0.4,9,409600,0.02,2.5,0.9,2.6,3.7,41000,20000,,periodic\n");
  for (const char* file : {"old.csv", "resumed.csv"}) {
    const charnn::MetricsFile old = charnn::read_metrics_file(dir / file);
    REQUIRE(old.rows.size() >= 2);
    CHECK_FALSE(old.rows[0].end_of_run);
    CHECK(old.rows[1].end_of_run);
  }
}
