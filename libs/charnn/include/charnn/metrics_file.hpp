// One row of a run's metrics.csv, as the trainer writes it (run_dir.hpp's MetricsLog) and as it
// reads back for `charnn runs` and the loss curves. Columns are found by name, so files from
// older runs with fewer columns read too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace charnn {

// One row, in the file's column order; NaN where a cell is empty (train_loss and grad_norm on
// the end-of-run row, valid_loss on rows that did not validate). With --ema, valid_loss is the
// better of the trained weights and their average (the model the checkpoint keeps) and
// trained_valid_loss the trained weights' alone.
struct MetricsRow {
  std::int64_t iteration = 0;
  double epoch = 0;
  double seconds = 0;
  std::int64_t units = 0;  // training units seen
  double lr = 0;
  double train_loss = 0;
  double grad_norm = 0;
  double valid_loss = 0;
  double units_per_second = 0;
  std::int64_t valid_units = 0;  // how many units the validation scored; 0 = none
  double trained_valid_loss = std::numeric_limits<double>::quiet_NaN();
  // The whole split, scored once at the end of a run whose periodic validations score a slice
  // (--eval-units): the figure to report, not compared with the periodic ones, which alone pick
  // best.ckpt. Column `validation`: "periodic" or "end".
  bool end_of_run = false;
};

struct MetricsFile {
  std::vector<MetricsRow> rows;  // the readable ones, in file order
  std::string problem;           // why the file or some row could not be read; empty = none
};

// A missing file, a missing column or a damaged row is reported in `problem`, not thrown: the
// callers show what there is. Rows from before the `validation` column are end_of_run where they
// scored more units than the fewest any validation scored (which misses an end row whose split
// rounds to the slice's units).
MetricsFile read_metrics_file(const std::filesystem::path& file);

}  // namespace charnn
