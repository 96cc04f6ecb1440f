// The training runs under a directory (runs/ by default), summarised from the files each run
// keeps (config.json, metrics.csv, the checkpoints), without loading a model: what `charnn runs`
// lists.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace charnn {

struct RunSummary {
  std::filesystem::path dir;
  std::string name;          // the directory's name
  std::string corpus;        // as config.json records it
  std::string model;         // "lstm,lstm x 512"
  std::int64_t iterations = 0;
  double epochs = 0;
  double seconds = 0;        // training time, summed over resumes
  double best_valid = 0;     // nats per unit, the periodic figure that picks best.ckpt; NaN if none
  std::int64_t best_iteration = 0;
  std::uintmax_t bytes = 0;  // every file of the run
  std::int64_t kept = 0;     // --keep-every snapshots
  long writer_pid = 0;       // a process training into it now (0: none)
  bool latest = false;       // runs/latest points at it
  std::string problem;       // what could not be read ("no config.json"), empty if all was
};

// Every subdirectory of runs_dir holding config.json or a checkpoint, oldest first (by the time
// config.json was written). Throws charnn::error when runs_dir cannot be read.
std::vector<RunSummary> list_runs(const std::filesystem::path& runs_dir);

}  // namespace charnn
