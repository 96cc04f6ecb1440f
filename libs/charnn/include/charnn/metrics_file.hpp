// Reading a run's metrics.csv back (the trainer writes it: run_dir.hpp's MetricsLog), for
// `charnn runs` and the loss curves. Columns are found by name, so files from older runs with
// fewer columns read too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace charnn {

// One row; NaN where the cell is empty (train_loss on the end-of-run row, valid_loss on rows
// that did not validate).
struct MetricsRow {
  std::int64_t iteration = 0;
  double epoch = 0, seconds = 0;
  std::int64_t units = 0;  // training units seen
  double lr = 0, train_loss = 0, valid_loss = 0;
  std::int64_t valid_units = 0;  // how many units the validation scored; 0 = none
};

struct MetricsFile {
  std::vector<MetricsRow> rows;  // the readable ones, in file order
  std::string problem;           // why the file or some row could not be read; empty = none
};

// A missing file, a missing column or a damaged row is reported in `problem`, not thrown: the
// callers show what there is.
MetricsFile read_metrics_file(const std::filesystem::path& file);

}  // namespace charnn
