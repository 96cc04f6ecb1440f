// The page `charnn runs --html` writes: the runs of a directory as a table and their loss curves
// on one chart, so that settings can be compared by eye. One self-contained file (inline CSS and
// SVG, no script, nothing fetched).
#pragma once

#include <charnn/loss_curves.hpp>
#include <charnn/run_list.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace charnn {

// runs: the table's rows; curves: the runs drawn (a chosen subset, or all of them), each with
// the rows of its metrics.csv. title names the directory.
void write_runs_page(std::ostream& out, const std::string& title,
                     const std::vector<RunSummary>& runs, const std::vector<RunCurves>& curves);

}  // namespace charnn
