// Checkpoints: self-describing, checksummed, crash-safe files holding a model (config,
// vocabulary, cell plugin names and versions, parameters) and, for training checkpoints, all
// the state an exact resume needs (optimiser moments, carried recurrent state, RNG, data
// position, iteration, best validation loss).
//
// File layout (little-endian):
//   magic "CHARNNCK" (8) | u32 format version | u32 reserved (0) | u64 payload bytes |
//   payload | u64 trailer
// The payload is a sequence of sections, each: 4-byte tag | u64 length | bytes, and in format 2
// a u64 checksum64 (checksum.hpp) of the tag, the length and the bytes.
//   HEAD  key=value lines (UTF-8): the full training config, model config, plugins, progress
//   VOCB  Vocab::save
//   PARM  f32[P]     the model's flat parameter buffer
//   OPTM  f32[...]   optimiser state (absent in a model-only file)
//   STAT  f32[...]   carried recurrent state, layer by layer, each (S_l, N, H)
//   LIVE  f32[P]     with --ema: the weights training continues from (PARM may be their average)
//   AVRG  f32[P]     with --ema: the running average of the weights (weight_average.hpp)
// The trailer: format 1, FNV-1a-64 of the whole payload; format 2, checksum64 of the 24-byte
// preamble followed by each section's tag, length and checksum (the section table). Format 2
// lets a reader that needs only the model check and read HEAD, VOCB and PARM and skip the rest
// unread: a fifth of a training checkpoint with --ema. Both formats are read.
// Unknown sections are skipped, so a same-major reader tolerates additions.
#pragma once

#include <charnn/model.hpp>
#include <charnn/vocab.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace charnn {

class PluginRegistry;

// The format written, and the newest one read.
inline constexpr std::uint32_t kCheckpointFormatVersion = 2;

enum class CheckpointChoice { best, last };

// model_or_run may be: a checkpoint file; a run directory (picks best.ckpt or last.ckpt in it,
// falling back to the other when the preferred one is absent); or empty (the default run: the
// run directory that runs/latest points to under the current directory). Throws charnn::error
// with a hint when nothing is found.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& model_or_run,
                                         CheckpointChoice which);

struct LoadedModel {
  std::filesystem::path file;  // the checkpoint actually used
  Vocab vocab;                 // includes the TextOptions the corpus was cleaned with
  std::unique_ptr<Model> model;
};
// Reads only the model's sections (CheckpointParts::model). Throws charnn::error naming the file
// on truncated/corrupt/foreign/future-version files and naming a missing cell plugin.
LoadedModel load_model(const std::filesystem::path& checkpoint, const PluginRegistry& plugins);

// The name and version of the cell plugin behind one layer.
struct PluginUse {
  std::string name;
  std::string version;
};

// Everything a checkpoint file holds, in memory.
struct CheckpointData {
  // Free-form key/values (training config, progress, RNG...). Keys: [a-z0-9_.]+; values any
  // UTF-8 without NUL. The model.* and plugin.* keys are written from `model`/`plugins`.
  std::map<std::string, std::string> header;
  ModelConfig model;
  std::vector<PluginUse> plugins;  // one per layer
  Vocab vocab;
  std::vector<float> params;     // (P) Model::params()
  std::vector<float> optimizer;  // optimiser state; empty for a model-only checkpoint
  std::vector<float> state;      // carried state, all layers back to back; may be empty
  // With a weight average (--ema), PARM is whichever of the trained weights and their average
  // validated better, the model every reader uses; a resume needs both. Empty otherwise.
  std::vector<float> live;     // (P) the trained weights
  std::vector<float> average;  // (P) their running average

  // Typed header access; get_* throw charnn::error naming `file` when a key is missing or bad.
  void set(const std::string& key, const std::string& value) { header[key] = value; }
  void set(const std::string& key, std::int64_t value);
  void set(const std::string& key, double value);  // round-trips exactly (hex float)
  std::string get_string(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool has(const std::string& key) const { return header.count(key) > 0; }
  std::filesystem::path file;  // set by read_checkpoint, used in error messages
};

// Writes atomically: a temporary file in the same directory, fsync, rename over `file`, fsync
// the directory. A crash at any moment leaves either the old or the new file, never a torn one.
void write_checkpoint(const std::filesystem::path& file, const CheckpointData& data);
// The bytes write_checkpoint writes (what parse_checkpoint reads): for a checkpoint that travels
// without a file, such as the root rank's start sent to the other ranks (ranks.hpp).
// `format` 1 gives a file that charnn from before format 2 (2026-12-05) reads.
std::string checkpoint_bytes(const CheckpointData& data,
                             std::uint32_t format = kCheckpointFormatVersion);

// What a reader needs: the model alone (HEAD, VOCB and PARM: sampling, eval, inspection), or
// everything a resume needs as well. The sections left out stay empty and, in format 2, unread.
enum class CheckpointParts { model, all };

// Reads and verifies a checkpoint (magic, version, sizes, checksums, sections). Every problem is
// one charnn::error naming the file and what is wrong.
CheckpointData read_checkpoint(const std::filesystem::path& file,
                               CheckpointParts parts = CheckpointParts::all);
// The whole of a checkpoint's bytes already in memory; `file` names it in errors.
CheckpointData parse_checkpoint(const std::string& bytes, const std::filesystem::path& file);

// Builds the model a checkpoint describes (checks every cell plugin is available and that the
// parameter count matches) and copies the parameters in.
std::unique_ptr<Model> model_from_checkpoint(const CheckpointData& data,
                                             const PluginRegistry& plugins);

// Fills data.model, data.plugins and data.params from a model.
void store_model(const Model& model, CheckpointData& data);

// Points `link` (e.g. runs/latest) at `target` atomically: a temporary symlink renamed over it.
void point_symlink(const std::filesystem::path& link, const std::filesystem::path& target);

}  // namespace charnn
