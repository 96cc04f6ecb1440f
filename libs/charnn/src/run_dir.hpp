// A training run's directory: where a new run goes (--out, or runs/<corpus>-<date>-<time> with
// runs/latest pointing at it), which checkpoint a resume continues from, and metrics.csv.
#pragma once

#include <charnn/metrics_file.hpp>
#include <charnn/train_config.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace charnn::detail {

// One writer per run directory: an exclusive flock on RUN/.lock, held until the object dies or
// the process ends, however it ends (the kernel drops the lock). The file holds the owner's pid
// so that a second writer is told "RUN is in use by pid N" (charnn::error, exit 1).
class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(const std::filesystem::path& run_dir);
  RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RunLock& operator=(RunLock&& other) noexcept;
  ~RunLock();

 private:
  int fd_ = -1;
};

// The pid of the process training into run_dir now, from its lock (0: none, or unknown).
long run_writer(const std::filesystem::path& run_dir);

// Creates the directory of a new run and locks it. Refuses a directory that already holds a
// run (last.ckpt), or that another process is writing, since two runs in one directory would
// mix their files. A generated name is created exclusively, so runs started in the same second
// get different directories.
struct NewRun {
  std::filesystem::path dir;
  RunLock lock;
  bool created = false;            // the directory did not exist before
  std::filesystem::path latest;    // runs/latest, to point at dir once the run is set up
};
NewRun create_run_dir(const TrainConfig& config);
// The run is set up (config.json written): runs/latest may point at it.
void publish_run(const NewRun& run);
// Setting the run up failed: removes the directory if this process created it, so a failed
// start (a full disk at config.json) leaves nothing behind and runs/latest unchanged.
void abandon_run(const NewRun& run) noexcept;

// Temporary files (NAME.tmp-PID, from AtomicFile) that a killed process left in a run
// directory, removed. Call it holding the run's lock: no live writer can own one then.
struct StaleFiles {
  int count = 0;
  std::uintmax_t bytes = 0;
};
StaleFiles remove_stale_temporaries(const std::filesystem::path& run_dir);

// What `resume` (a run directory or a checkpoint) continues: its last.ckpt, and the run
// directory the resumed run keeps writing to.
struct ResumePoint {
  std::filesystem::path checkpoint;
  std::filesystem::path run_dir;
};
ResumePoint find_resume_point(const std::filesystem::path& resume);

// Replaces a small text file whole (config.json, a trimmed metrics.csv).
void write_text_file(const std::filesystem::path& file, const std::string& text);

// metrics.csv: one row per --log-every iterations and per validation. The rows are kept in
// memory as well, for the loss curves, so the file is read once (when resuming) and not again.
class MetricsLog {
 public:
  // A new run writes the header. A resumed run keeps the rows up to `iteration` (rows after the
  // checkpoint came from a session killed before its next checkpoint) and appends.
  MetricsLog(const std::filesystem::path& run_dir, bool resuming, std::int64_t iteration);

  // NaN losses, norms and validations are left empty; valid_units 0 = not a validation row.
  void write(const MetricsRow& row);
  // Every row of the run so far, earlier sessions' too.
  const std::vector<MetricsRow>& rows() const { return rows_; }

 private:
  std::ofstream out_;
  std::vector<MetricsRow> rows_;
};

}  // namespace charnn::detail
