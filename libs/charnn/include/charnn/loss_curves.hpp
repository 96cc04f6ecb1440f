// A run's loss curves as one self-contained SVG (no script, no font or file fetched): training
// and validation loss against minutes and against units seen, the best validation marked, the
// whole-split figure of the end, and the learning rate under them. Training writes it to
// curves.svg at every validation; the inspect report embeds it for the model it inspects;
// `charnn runs --html` draws several runs on one chart.
#pragma once

#include <charnn/metrics_file.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace charnn {

// rows as metrics.csv holds them. A validation row that scored more units than the fewest any
// scored is the whole split (the end of a run, after periodic checks of a slice): drawn apart.
// No rows give a small SVG that says there is nothing to draw yet. standalone: a file of its own
// (with the SVG namespace, which XML needs); otherwise for inline use in an HTML page.
std::string loss_curves_svg(const std::vector<MetricsRow>& rows, bool standalone = true);

// Several runs on one chart, to compare settings: each run's periodic validation loss against
// minutes and against units seen, one colour per run with its best ringed, its training loss
// faint in the same colour, and a legend row per run (name, best, time).
struct RunCurves {
  std::string name;
  std::vector<MetricsRow> rows;
};
std::string compare_curves_svg(const std::vector<RunCurves>& runs, bool standalone = true);

// run_dir/curves.svg from the run's rows, replaced atomically.
void write_loss_curves(const std::filesystem::path& run_dir, const std::vector<MetricsRow>& rows);

}  // namespace charnn
