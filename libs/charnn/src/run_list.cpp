#include "charnn/run_list.hpp"

#include "run_dir.hpp"

#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/metrics_file.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

namespace charnn {

namespace fs = std::filesystem;

namespace {

// metrics.csv: iterations, epochs, seconds of the last row; the best periodic validation. The
// whole-split figure a run adds at its end is not compared with the others, as in training.
void read_metrics(const fs::path& file, RunSummary& r) {
  const MetricsFile m = read_metrics_file(file);
  if (!m.problem.empty()) r.problem = m.problem;
  for (const MetricsRow& row : m.rows) {
    r.iterations = row.iteration;
    r.epochs = row.epoch;
    r.seconds = row.seconds;
    if (std::isnan(row.valid_loss)) continue;
    if (!row.end_of_run && (std::isnan(r.best_valid) || row.valid_loss < r.best_valid)) {
      r.best_valid = row.valid_loss;
      r.best_iteration = row.iteration;
    }
  }
}

RunSummary summarise(const fs::path& dir, const fs::path& latest) {
  RunSummary r;
  r.dir = dir;
  r.name = dir.filename().string();
  r.best_valid = std::numeric_limits<double>::quiet_NaN();
  std::error_code ec;
  r.latest = !latest.empty() && fs::equivalent(dir, latest, ec);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code size_ec;
    if (e.is_regular_file(size_ec)) {
      const auto n = e.file_size(size_ec);
      if (!size_ec) r.bytes += n;
      const std::string f = e.path().filename().string();
      r.kept += f.starts_with("iter-") && f.ends_with(".ckpt");
    }
  }
  r.writer_pid = detail::run_writer(dir);
  try {
    std::ifstream in(dir / "config.json");
    if (!in) {
      r.problem = "no config.json";
    } else {
      const Json c = Json::parse(in);
      r.corpus = c.value("corpus", std::string());
      const std::string cells = c.value("cells", std::string());
      const Json hidden = c.value("hidden", Json());
      r.model = cells + " x " + (hidden.is_number() ? std::to_string(hidden.get<std::int64_t>())
                                                    : hidden.dump());
    }
  } catch (const std::exception&) {
    r.problem = "config.json is damaged";
  }
  read_metrics(dir / "metrics.csv", r);
  return r;
}

}  // namespace

std::vector<RunSummary> list_runs(const fs::path& runs_dir) {
  std::error_code ec;
  if (!fs::is_directory(runs_dir, ec))
    throw error("no runs in " + runs_dir.string() + ": it is not a directory",
                "train one with: charnn train FILE (runs go to runs/ under the current "
                "directory), or name the directory that holds them");
  fs::path latest;
  if (fs::is_symlink(runs_dir / "latest", ec)) latest = fs::canonical(runs_dir / "latest", ec);
  std::vector<std::pair<fs::file_time_type, RunSummary>> found;
  for (const auto& e : fs::directory_iterator(runs_dir, ec)) {
    if (e.path().filename() == "latest" || !e.is_directory(ec) || e.is_symlink(ec)) continue;
    const fs::path d = e.path();
    if (!fs::exists(d / "config.json", ec) && !fs::exists(d / "last.ckpt", ec)) continue;
    auto when = fs::last_write_time(fs::exists(d / "config.json", ec) ? d / "config.json" : d, ec);
    found.emplace_back(when, summarise(d, latest));
  }
  if (ec) throw error("cannot read " + runs_dir.string() + ": " + ec.message());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.name < b.second.name;
  });
  std::vector<RunSummary> runs;
  for (auto& f : found) runs.push_back(std::move(f.second));
  return runs;
}

}  // namespace charnn
