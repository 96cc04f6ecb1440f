// A training run's directory: where a new run goes (--out, or runs/<corpus>-<date>-<time> with
// runs/latest pointing at it), which checkpoint a resume continues from, and metrics.csv.
#pragma once

#include <charnn/train_config.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace charnn::detail {

// Creates the directory of a new run and returns it. Refuses a directory that already holds a
// run (last.ckpt), since two runs in one directory would mix their files.
std::filesystem::path create_run_dir(const TrainConfig& config);

// What `resume` (a run directory or a checkpoint) continues: its last.ckpt, and the run
// directory the resumed run keeps writing to.
struct ResumePoint {
  std::filesystem::path checkpoint;
  std::filesystem::path run_dir;
};
ResumePoint find_resume_point(const std::filesystem::path& resume);

// Replaces a small text file whole (config.json, a trimmed metrics.csv).
void write_text_file(const std::filesystem::path& file, const std::string& text);

// metrics.csv: one row per --log-every iterations and per validation.
class MetricsLog {
 public:
  // A new run writes the header. A resumed run keeps the rows up to `iteration` (rows after the
  // checkpoint came from a session killed before its next checkpoint) and appends.
  MetricsLog(const std::filesystem::path& run_dir, bool resuming, std::int64_t iteration);

  // NaN losses, norms and validations are left empty; valid_units 0 = not a validation row.
  struct Row {
    std::int64_t iteration = 0;
    double epoch = 0;
    double seconds = 0;
    std::int64_t units = 0;
    double lr = 0;
    double train_loss = 0;
    double grad_norm = 0;
    double valid_loss = 0;
    double units_per_second = 0;
    std::int64_t valid_units = 0;
  };
  void write(const Row& row);

 private:
  std::ofstream out_;
};

}  // namespace charnn::detail
