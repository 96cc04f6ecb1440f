// Dumping a model's trace: for every unit of a text, the per-layer signals the cells record
// (h; for an LSTM also c and the gates i, f, o, g), streamed to disk chunk by chunk so a long
// text never has its whole trace in memory.
//
// Output directory layout (every format also writes units.json):
//   npy   layer<L>_<signal>.npy   float32 [units x hidden], one per layer and signal
//   csv   layer<L>_<signal>.csv   index,offset,unit,<signal>0..<signal>H-1, one row per unit
//   jsonl trace.jsonl             one object per unit: index, offset, unit, "layer<L>.<signal>"
//   units.json  {"units": [...], "offsets": [...], "arrays": [...], ...}: unit i of the text
//               (its exact UTF-8, JSON-escaped) is row i of every array; offsets are byte
//               offsets into the cleaned text (BOM removed, line ends normalised, NFC).
// Files appear only when complete (temporary names, renamed at the end).
#pragma once

#include <charnn/inspect.hpp>
#include <charnn/model.hpp>
#include <charnn/trace.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

enum class DumpFormat : std::uint8_t { npy = 0, csv = 1, jsonl = 2 };
DumpFormat parse_dump_format(std::string_view name);  // "npy" | "csv" | "jsonl"
std::string to_string(DumpFormat format);

struct DumpOptions {
  DumpFormat format = DumpFormat::npy;
  std::vector<std::int32_t> layers;  // empty = every layer
  std::vector<std::string> signals;  // empty = every signal the selected layers trace
  TraceOptions trace;                // how the text is traced (trace.hpp)
  std::string unit_kind;             // recorded in units.json, e.g. "grapheme"
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

struct DumpedArray {
  std::int32_t layer = 0;
  std::string signal;
  std::int64_t hidden = 0;
  std::filesystem::path file;  // empty for jsonl (all in trace.jsonl)
};

struct DumpResult {
  std::vector<DumpedArray> arrays;
  std::vector<std::filesystem::path> files;  // every file written, units.json last
  std::int64_t units = 0;
  TraceStats trace;
};

// Which (layer, signal) pairs a selection means, in layer then signal order. Throws
// charnn::error listing what exists when a layer is out of range or a signal is traced by none
// of the selected layers.
std::vector<DumpedArray> select_signals(const Model& model, const DumpOptions& options);

// Runs the model over the text (as one stream from the zero state; trace.hpp) and writes
// out_dir (created if missing). Throws charnn::error when out_dir cannot be created or written.
DumpResult dump_trace(Model& model, const TracedText& text, const std::filesystem::path& out_dir,
                      const DumpOptions& options);

}  // namespace charnn
