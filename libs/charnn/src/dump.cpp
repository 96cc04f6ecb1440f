// Trace dumps (see dump.hpp): each chunk from Model::trace goes straight to the open writers.
#include "charnn/dump.hpp"

#include "enum_names.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <span>
#include <system_error>

#include "charnn/atomic_file.hpp"
#include "charnn/error.hpp"
#include "charnn/json.hpp"
#include "charnn/npy.hpp"
#include "charnn/text.hpp"
#include "util.hpp"

namespace charnn {
namespace {

// Shortest text that reads back as the same float.
void put_float(std::ostream& out, float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.write(buf, res.ptr - buf);
}

std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Where one selected array sits in a trace chunk's signals.
struct Source {
  std::size_t layer, k;
};

// trace.csv rows of one array: index, offset, the escaped unit, then its H values.
void write_csv_rows(std::ostream& out, const TracedText& text, const TraceChunk& chunk,
                    std::span<const float> values, std::size_t H) {  // values: (T, H)
  for (std::int64_t t = 0; t < chunk.T; ++t) {
    const std::int64_t u = chunk.begin + t;
    out << u << ',' << text.boundaries[static_cast<std::size_t>(u)] << ','
        << csv_field(escape_unit(text.unit(u)));
    for (std::size_t h = 0; h < H; ++h) {
      out << ',';
      put_float(out, values[static_cast<std::size_t>(t) * H + h]);
    }
    out << '\n';
  }
}

// The open output files of a dump: npy, one per array; csv, one per array; jsonl, one.
struct Writers {
  std::vector<std::unique_ptr<NpyWriter>> npy;
  std::vector<std::unique_ptr<AtomicFile>> text_files;
};

// Opens every output file (under temporary names) and sets each array's file name.
Writers open_writers(const std::filesystem::path& out_dir, DumpResult& result, DumpFormat format) {
  const auto array_name = [](const DumpedArray& a) {
    return "layer" + std::to_string(a.layer) + "_" + a.signal;
  };
  Writers w;
  if (format == DumpFormat::npy) {
    for (auto& a : result.arrays) {
      a.file = out_dir / (array_name(a) + ".npy");
      w.npy.push_back(
          std::make_unique<NpyWriter>(a.file, std::vector<std::int64_t>{result.units, a.hidden}));
    }
  } else if (format == DumpFormat::csv) {
    for (auto& a : result.arrays) {
      a.file = out_dir / (array_name(a) + ".csv");
      w.text_files.push_back(std::make_unique<AtomicFile>(a.file));
      auto& out = w.text_files.back()->stream();
      out << "index,offset,unit";
      for (std::int64_t h = 0; h < a.hidden; ++h) out << ',' << a.signal << h;
      out << '\n';
    }
  } else {
    w.text_files.push_back(std::make_unique<AtomicFile>(out_dir / "trace.jsonl"));
  }
  return w;
}

// trace.jsonl: one object per unit of the chunk, the unit's values of every selected array.
void write_jsonl_rows(std::ostream& out, const TracedText& text, const TraceChunk& chunk,
                      const std::vector<DumpedArray>& arrays, const std::vector<Source>& sources) {
  for (std::int64_t t = 0; t < chunk.T; ++t) {
    const std::int64_t u = chunk.begin + t;
    FloatJson row;
    row["index"] = u;
    row["offset"] = text.boundaries[static_cast<std::size_t>(u)];
    row["unit"] = std::string(text.unit(u));
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      const auto values = chunk.signals[sources[i].layer][sources[i].k];  // (T, H)
      const auto H = static_cast<std::size_t>(arrays[i].hidden);
      const auto first =
          values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(t) * H);
      row["layer" + std::to_string(arrays[i].layer) + "." + arrays[i].signal] =
          std::vector<float>(first, first + static_cast<std::ptrdiff_t>(H));
    }
    out << json_text(row) << '\n';
  }
}

// units.json: the index that lines every array up with the text. The units and offsets lists
// are streamed value by value (each written by the JSON library) rather than built as one
// document, which for a long text would hold millions of nodes in memory.
void write_units_json(std::ostream& out, const Model& model, const TracedText& text,
                      const DumpResult& result, const DumpOptions& options) {
  Json head;
  head["format"] = "charnn-dump";
  head["version"] = 1;
  head["dump_format"] = to_string(options.format);
  head["unit_kind"] = options.unit_kind;
  head["count"] = result.units;
  head["offsets_note"] =
      "byte offsets into the cleaned text (UTF-8, BOM removed, line ends normalised, NFC)";
  head["arrays"] = Json::array();
  for (const auto& a : result.arrays) {
    Json e;
    e["layer"] = a.layer;
    e["cell"] = model.layer(a.layer).type();
    e["signal"] = a.signal;
    e["hidden"] = a.hidden;
    e["file"] = options.format == DumpFormat::jsonl ? "trace.jsonl" : a.file.filename().string();
    head["arrays"].push_back(std::move(e));
  }
  std::string text_of_head = json_text(head);
  text_of_head.pop_back();  // the closing '}': the lists follow
  out << text_of_head << ",\"units\":[";
  for (std::int64_t u = 0; u < result.units; ++u)
    out << (u ? "," : "") << json_text(Json(std::string(text.unit(u))));
  out << "],\"offsets\":[";
  for (std::int64_t u = 0; u < result.units; ++u)
    out << (u ? "," : "") << text.boundaries[static_cast<std::size_t>(u)];
  out << "]}\n";
}

constexpr detail::EnumNames<DumpFormat, 3> kDumpFormatNames{{
    {DumpFormat::npy, "npy"},
    {DumpFormat::csv, "csv"},
    {DumpFormat::jsonl, "jsonl"},
}};
}  // namespace

std::string to_string(DumpFormat format) {
  return detail::name_of(kDumpFormatNames, format);
}

DumpFormat parse_dump_format(std::string_view name) {
  if (auto value = detail::value_named(kDumpFormatNames, name)) return *value;
  throw error("unknown dump format '" + std::string(name) + "'", "use npy, csv or jsonl", 2);
}


std::vector<DumpedArray> select_signals(const Model& model, const DumpOptions& options) {
  std::vector<std::int32_t> layers = options.layers;
  if (layers.empty())
    for (std::int32_t l = 0; l < model.num_layers(); ++l) layers.push_back(l);
  for (auto l : layers)
    if (l < 0 || l >= model.num_layers())
      throw error("--layer " + std::to_string(l) + " does not exist: the model has " +
                      std::to_string(model.num_layers()) + " layers (0 to " +
                      std::to_string(model.num_layers() - 1) + ")",
                  "", 2);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  std::vector<DumpedArray> out;
  std::vector<std::string> available;
  for (const auto& want : options.signals) {
    bool found = false;
    for (auto l : layers) {
      const auto& names = model.layer(l).signals();
      found = found || std::find(names.begin(), names.end(), want) != names.end();
    }
    if (!found) {
      for (auto l : layers)
        available.push_back("layer " + std::to_string(l) + " (" + model.layer(l).type() +
                            "): " + [&] {
                              std::string s;
                              for (const auto& n : model.layer(l).signals()) s += n + " ";
                              return s.empty() ? s : s.substr(0, s.size() - 1);
                            }());
      throw error("--signal " + want + " is not traced by the selected layers",
                  "available: " + detail::join(available, ", "), 2);
    }
  }
  for (auto l : layers)
    for (const auto& name : model.layer(l).signals())
      if (options.signals.empty() ||
          std::find(options.signals.begin(), options.signals.end(), name) != options.signals.end())
        out.push_back({l, name, model.layer(l).hidden_size(), {}});
  return out;
}

DumpResult dump_trace(Model& model, const TracedText& text, const std::filesystem::path& out_dir,
                      const DumpOptions& options) {
  DumpResult result;
  result.arrays = select_signals(model, options);
  result.units = text.units();
  if (result.units < 1) throw error("nothing to dump: the text has no units");

  std::error_code ec;
  const bool existed = std::filesystem::exists(out_dir, ec);
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir))
    throw error("cannot create the output directory " + out_dir.string() + ": " +
                    (ec ? ec.message() : std::string("a file of that name exists")),
                "choose another --out, or check the permissions of its parent");
  // A directory made here and left empty by a failure (the writers remove their temporaries)
  // goes too, so a failed dump leaves nothing behind.
  struct RemoveIfEmpty {
    std::filesystem::path dir;
    bool armed;
    ~RemoveIfEmpty() {
      std::error_code e;
      if (armed && std::filesystem::is_empty(dir, e)) std::filesystem::remove(dir, e);
    }
  } cleanup{out_dir, !existed};

  // Where each selected array sits in chunk.signals.
  std::vector<Source> sources;
  for (const auto& a : result.arrays) {
    const auto& names = model.layer(a.layer).signals();
    sources.push_back({static_cast<std::size_t>(a.layer),
                       static_cast<std::size_t>(std::find(names.begin(), names.end(), a.signal) -
                                                names.begin())});
  }

  Writers w = open_writers(out_dir, result, options.format);
  auto& npy = w.npy;
  auto& text_files = w.text_files;

  result.trace = trace_text(
      model, text.ids,
      [&](const TraceChunk& chunk) {
        for (std::size_t i = 0; i < result.arrays.size(); ++i) {
          const auto values = chunk.signals[sources[i].layer][sources[i].k];  // (T, H)
          if (options.format == DumpFormat::npy) {
            npy[i]->write(
                values.first(static_cast<std::size_t>(chunk.T * result.arrays[i].hidden)));
          } else if (options.format == DumpFormat::csv) {
            write_csv_rows(text_files[i]->stream(), text, chunk, values,
                           static_cast<std::size_t>(result.arrays[i].hidden));
          }
        }
        if (options.format == DumpFormat::jsonl)
          write_jsonl_rows(text_files[0]->stream(), text, chunk, result.arrays, sources);
        if (options.progress) options.progress(chunk.begin + chunk.T, result.units);
      },
      options.trace);

  AtomicFile units(out_dir / "units.json");
  write_units_json(units.stream(), model, text, result, options);

  // Everything written: move the files into place.
  for (auto& w : npy) {
    w->commit();
    result.files.push_back(w->file());
  }
  for (auto& f : text_files) {
    f->commit();
    result.files.push_back(f->target());
  }
  units.commit();
  result.files.push_back(units.target());
  return result;
}

}  // namespace charnn
