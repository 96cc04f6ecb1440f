// charnn runs: the training runs under runs/ (or DIR), one line each: corpus, model, how far it
// trained, its best validation, time and size, and whether a process is training into it now;
// with --html, a page that draws their loss curves on one chart.
#include <charnn/atomic_file.hpp>
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/memory_estimate.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/run_list.hpp>
#include <charnn/runs_page.hpp>
#include <charnn/train_config.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string status(const RunSummary& r) {
  if (r.writer_pid > 1) return "training (pid " + std::to_string(r.writer_pid) + ")";
  if (r.writer_pid == 1) return "training";
  return r.problem;
}

// The runs named by --run, in the order given; all of them when none is named.
std::vector<RunSummary> chosen_runs(const std::vector<RunSummary>& runs,
                                    const std::vector<std::string>& names) {
  if (names.empty()) return runs;
  std::vector<RunSummary> out;
  for (const auto& n : names) {
    const auto it =
        std::find_if(runs.begin(), runs.end(), [&](const auto& r) { return r.name == n; });
    if (it == runs.end()) {
      std::string known;
      for (const auto& r : runs) known += (known.empty() ? "" : ", ") + r.name;
      throw error("--run " + n + ": no such run",
                  "the runs here: " + (known.empty() ? "none" : known), 2);
    }
    out.push_back(*it);
  }
  return out;
}

void write_page(const std::string& file, const std::filesystem::path& dir,
                const std::vector<RunSummary>& runs) {
  AtomicFile page(file);
  std::vector<RunCurves> curves;
  for (const auto& r : runs)
    curves.push_back({r.name, read_metrics_file(r.dir / "metrics.csv").rows});
  write_runs_page(page.stream(), dir.string(), runs, curves);
  page.commit();
  std::cout << "HTML page: " << std::filesystem::absolute(file).lexically_normal().string() << "\n";
}

}  // namespace

int run_runs(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  std::vector<std::string> names;
  std::string html;
  bool json = false;
  po::options_description desc("Options");
  desc.add_options()("json", po::bool_switch(&json), "one JSON object per run, a line each")(
      "html", po::value(&html)->value_name("FILE"),
      "write a page with the runs' table and their validation and training loss against "
      "minutes and units seen, every run on one chart")(
      "run", po::value(&names)->value_name("NAME")->composing(),
      "only this run (repeatable), e.g. to compare two settings");
  po::options_description hidden;
  po::positional_options_description pos;
  add_file_arguments(hidden, pos, dirs);
  const CommandHelp help{
      "runs", "charnn runs [options] [DIR]",
      "Lists the training runs under DIR (default: runs/, where charnn train puts them), oldest "
      "first: the corpus, the model, iterations and epochs trained, the best validation loss "
      "(nats per unit, and the iteration of best.ckpt), training time and size on disk. The run "
      "runs/latest points at is marked with *, a run being trained now says so, and snapshots "
      "kept by --keep-every are counted. --html draws their loss curves on one chart.",
      "charnn runs --html runs.html"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  if (dirs.size() > 1) throw error("one directory at a time", "usage: charnn runs [DIR]", 2);
  const std::filesystem::path dir = dirs.empty() ? "runs" : dirs[0];
  const std::vector<RunSummary> runs = chosen_runs(list_runs(dir), names);
  if (!html.empty()) {
    if (runs.empty()) throw error("no runs in " + dir.string() + " to draw", {}, 1);
    write_page(html, dir, runs);
    return 0;
  }

  if (json) {
    for (const auto& r : runs) {
      Json j{{"run", r.dir.string()},
             {"latest", r.latest},
             {"corpus", r.corpus},
             {"model", r.model},
             {"iterations", r.iterations},
             {"epochs", r.epochs},
             {"seconds", r.seconds},
             {"best_valid_loss", std::isnan(r.best_valid) ? Json(nullptr) : Json(r.best_valid)},
             {"best_iteration", r.best_iteration},
             {"bytes", r.bytes},
             {"snapshots", r.kept},
             {"writer_pid", r.writer_pid > 1 ? Json(r.writer_pid) : Json(nullptr)},
             {"training", r.writer_pid > 0},
             {"problem", r.problem}};
      std::cout << json_text(j) << "\n";
    }
    return 0;
  }
  if (runs.empty()) {
    std::cout << "no runs in " << dir.string() << "\n";
    return 0;
  }
  // Columns sized to their widest cell; the corpus and the status go last, as they vary most.
  std::vector<std::vector<std::string>> rows = {
      {"run", "model", "iterations", "epochs", "best valid (iter)", "time", "size", "corpus", ""}};
  for (const auto& r : runs) {
    const std::string best = std::isnan(r.best_valid) ? "-"
                                                      : fixed(r.best_valid, 4) + " (" +
                                                            std::to_string(r.best_iteration) + ")";
    std::string name = (r.latest ? "* " : "  ") + r.name;
    std::string corpus = std::filesystem::path(r.corpus).filename().string();
    std::string extra = status(r);
    if (r.kept > 0) extra += (extra.empty() ? "" : ", ") + std::to_string(r.kept) + " snapshots";
    rows.push_back({name, r.model.empty() ? "-" : r.model, std::to_string(r.iterations),
                    fixed(r.epochs, 2), best, format_duration(r.seconds), bytes_text(r.bytes),
                    corpus.empty() ? "-" : corpus, extra});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const bool number = c >= 2 && c <= 6;
      const std::string pad(width[c] - row[c].size(), ' ');
      line += (c ? "  " : "") + (number ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : ""));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace charnn::app
