// Checkpoint files: what their sections hold, written atomically and read back with every defect
// one clear error. The container (framing and checksums) is checkpoint_format.cpp's; the model
// built from a checkpoint, and finding the checkpoint a command should use, checkpoint_model.cpp's.
#include "charnn/checkpoint.hpp"
#include "checkpoint_format.hpp"
#include "util.hpp"

#include <charnn/atomic_file.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

namespace charnn {

namespace fs = std::filesystem;

namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else
      out.push_back(c);
  }
  return out;
}

std::string unescape(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      ++i;
      out.push_back(v[i] == 'n' ? '\n' : v[i] == 'r' ? '\r' : v[i]);
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out.push_back(sep);
    out += parts[i];
  }
  return out;
}

[[noreturn]] void bad(const fs::path& file, const std::string& what) {
  detail::bad_checkpoint(file, what);
}

// A double as hexadecimal floating point: it reads back as exactly the same value.
std::string exact_real(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", value);
  return buf;
}

}  // namespace

void CheckpointData::set(const std::string& key, std::int64_t value) {
  header[key] = std::to_string(value);
}

void CheckpointData::set(const std::string& key, double value) {
  header[key] = exact_real(value);
}

std::string CheckpointData::get_string(const std::string& key) const {
  auto it = header.find(key);
  if (it == header.end()) bad(file, "the header has no '" + key + "' entry");
  return it->second;
}

std::int64_t CheckpointData::get_int(const std::string& key) const {
  const std::string v = get_string(key);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno || *end) bad(file, "header entry '" + key + "' is not an integer: " + v);
  return x;
}

double CheckpointData::get_double(const std::string& key) const {
  const std::string v = get_string(key);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end) bad(file, "header entry '" + key + "' is not a number: " + v);
  return x;
}

void store_model(const Model& model, CheckpointData& data) {
  data.model = model.config();
  data.plugins.clear();
  for (std::int32_t l = 0; l < model.num_layers(); ++l)
    data.plugins.push_back({model.layer(l).plugin().name(), model.layer(l).plugin().version()});
  data.params.assign(model.params().begin(), model.params().end());
}

std::string checkpoint_bytes(const CheckpointData& data, std::uint32_t format) {
  // The model and plugin entries are derived from the typed fields so they can never disagree.
  std::map<std::string, std::string> header = data.header;
  header["model.cells"] = join(data.model.cells, ',');
  header["model.hidden"] = std::to_string(data.model.hidden);
  header["model.vocab_size"] = std::to_string(data.model.vocab_size);
  header["model.dropout"] = exact_real(data.model.dropout);
  header["model.dropout_mask"] = to_string(data.model.dropout_mask);
  header["model.weight_drop"] = exact_real(data.model.weight_drop);
  header["model.params"] = std::to_string(data.params.size());
  for (std::size_t l = 0; l < data.plugins.size(); ++l) {
    header["plugin." + std::to_string(l) + ".name"] = data.plugins[l].name;
    header["plugin." + std::to_string(l) + ".version"] = data.plugins[l].version;
  }
  std::string head;
  for (const auto& [k, v] : header) head += k + "=" + escape(v) + "\n";

  std::ostringstream vocab_bytes;
  data.vocab.save(vocab_bytes);
  const std::string vocab = vocab_bytes.str();

  static_assert(sizeof(float) == 4);
  // Floats are stored little-endian, which is the host order on every platform charnn targets.
  const auto floats = [](const std::vector<float>& v) { return 4 * v.size(); };
  detail::CheckpointWriter out(format, head.size() + vocab.size() + floats(data.params) +
                                           floats(data.optimizer) + floats(data.state) +
                                           floats(data.live) + floats(data.average));
  out.section("HEAD", head.data(), head.size());
  out.section("VOCB", vocab.data(), vocab.size());
  out.section("PARM", data.params.data(), floats(data.params));
  if (!data.optimizer.empty()) out.section("OPTM", data.optimizer.data(), floats(data.optimizer));
  if (!data.state.empty()) out.section("STAT", data.state.data(), floats(data.state));
  if (!data.live.empty()) out.section("LIVE", data.live.data(), floats(data.live));
  if (!data.average.empty()) out.section("AVRG", data.average.data(), floats(data.average));
  return std::move(out).finish();
}

void write_checkpoint(const fs::path& file, const CheckpointData& data) {
  const std::string bytes = checkpoint_bytes(data);
  AtomicFile::Options durable;
  durable.durable = true;
  durable.what = "checkpoint";
  durable.open_hint = "check that the run directory exists and is writable";
  durable.write_hint =
      "free some disk space (or raise the file size limit, ulimit -f); the previous checkpoint "
      "is untouched";
  AtomicFile out(file, durable);
  out.stream() << bytes;
  out.commit();
}

namespace {

// HEAD: "key=value" lines, values escaped.
void read_head(const fs::path& file, std::string_view text, CheckpointData& data) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0)
      bad(file, "corrupt: header line without 'key=value': " + std::string(line.substr(0, 60)));
    data.header[std::string(line.substr(0, eq))] = unescape(line.substr(eq + 1));
    start = end + 1;
  }
}

// The sections `parts` asks for into data: HEAD, VOCB and PARM are required; OPTM, STAT, LIVE
// and AVRG optional (read for CheckpointParts::all only); unknown tags (a newer minor revision)
// skipped. Each section's bytes are checked before anything is made of them.
void read_sections(detail::CheckpointReader& reader, const fs::path& file, CheckpointParts parts,
                   CheckpointData& data) {
  bool have_head = false, have_vocab = false, have_params = false;
  const auto bytes = [&](const detail::CheckpointReader::Section& s) {
    std::string b(static_cast<std::size_t>(s.length), '\0');
    reader.read(s, b.data());
    return b;
  };
  // Straight into the vector: a training checkpoint's sections are read without a copy.
  const auto floats = [&](const detail::CheckpointReader::Section& s) {
    if (s.length % 4)
      bad(file, "corrupt: section " + s.tag + " is not a whole number of floats");
    std::vector<float> v(static_cast<std::size_t>(s.length / 4));
    reader.read(s, v.data());
    return v;
  };
  const bool all = parts == CheckpointParts::all;
  for (const auto& s : reader.sections()) {
    if (s.tag == "HEAD") {
      read_head(file, bytes(s), data);
      have_head = true;
    } else if (s.tag == "VOCB") {
      std::istringstream vin(bytes(s));
      try {
        data.vocab = Vocab::load(vin);
      } catch (const error& e) {
        bad(file, std::string("corrupt vocabulary: ") + e.what());
      }
      have_vocab = true;
    } else if (s.tag == "PARM") {
      data.params = floats(s);
      have_params = true;
    } else if (all && s.tag == "OPTM") {
      data.optimizer = floats(s);
    } else if (all && s.tag == "STAT") {
      data.state = floats(s);
    } else if (all && s.tag == "LIVE") {
      data.live = floats(s);
    } else if (all && s.tag == "AVRG") {
      data.average = floats(s);
    }
  }
  if (!have_head || !have_vocab || !have_params)
    bad(file, std::string("incomplete: missing the ") +
                  (!have_head    ? "HEAD"
                   : !have_vocab ? "VOCB"
                                 : "PARM") +
                  " section");
}

// The model configuration and plugins the header names, checked against the sections.
void read_model_config(const fs::path& file, CheckpointData& data) {
  const std::string cells = data.get_string("model.cells");
  data.model.cells = detail::split_string(cells, ',');
  for (const auto& c : data.model.cells)
    if (c.empty()) bad(file, "corrupt: bad model.cells entry '" + cells + "'");
  data.model.hidden = data.get_int("model.hidden");
  data.model.vocab_size = static_cast<std::int32_t>(data.get_int("model.vocab_size"));
  data.model.dropout = static_cast<float>(data.get_double("model.dropout"));
  // Checkpoints from before the choice drew a new mask at every step.
  if (data.has("model.dropout_mask")) {
    const std::string mask = data.get_string("model.dropout_mask");
    try {
      data.model.dropout_mask = parse_dropout_mask(mask);
    } catch (const error&) {
      bad(file, "corrupt: unknown model.dropout_mask '" + mask + "'");
    }
  }
  // Checkpoints from before --weight-drop had none.
  if (data.has("model.weight_drop"))
    data.model.weight_drop = static_cast<float>(data.get_double("model.weight_drop"));
  // Sizes are checked against the PARM section before anything is allocated from them: the
  // output layer alone holds hidden x vocab_size + vocab_size of those floats.
  const auto P = static_cast<std::int64_t>(data.params.size());
  const std::int64_t V = data.model.vocab_size, H = data.model.hidden;
  if (V < 1 || H < 1 || H > (P - V) / V)
    bad(file, "corrupt: a model of hidden size " + std::to_string(H) + " and " + std::to_string(V) +
                  " units cannot fit the " + std::to_string(P) + " parameters of PARM");
  if (data.model.cells.size() > static_cast<std::size_t>(P))
    bad(file, "corrupt: " + std::to_string(data.model.cells.size()) + " layers in a model of " +
                  std::to_string(P) + " parameters");
  if (data.get_int("model.params") != P)
    bad(file, "corrupt: the header announces " + data.get_string("model.params") +
                  " parameters but PARM holds " + std::to_string(data.params.size()));
  for (const auto& [tag, floats] :
       {std::pair{"LIVE", &data.live}, std::pair{"AVRG", &data.average}})
    if (!floats->empty() && static_cast<std::int64_t>(floats->size()) != P)
      bad(file, std::string("corrupt: section ") + tag + " holds " +
                    std::to_string(floats->size()) + " weights, PARM " + std::to_string(P));
  for (std::size_t l = 0; l < data.model.cells.size(); ++l) {
    const std::string k = "plugin." + std::to_string(l);
    data.plugins.push_back({data.get_string(k + ".name"), data.get_string(k + ".version")});
  }
  if (data.vocab.size() != data.model.vocab_size)
    bad(file, "corrupt: the vocabulary has " + std::to_string(data.vocab.size()) +
                  " units but the model expects " + std::to_string(data.model.vocab_size));
}

}  // namespace

namespace {

CheckpointData read_from(std::unique_ptr<detail::CheckpointSource> source, const fs::path& file,
                         CheckpointParts parts) {
  CheckpointData data;
  data.file = file;
  detail::CheckpointReader reader(std::move(source), file);
  read_sections(reader, file, parts, data);
  read_model_config(file, data);
  return data;
}

}  // namespace

CheckpointData read_checkpoint(const fs::path& file, CheckpointParts parts) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw error(file.string() + ": no such checkpoint file");
  if (fs::is_directory(file, ec))
    throw error(file.string() + ": is a directory, not a checkpoint file",
                "pass a .ckpt file, or use --model RUN_DIR where a command accepts a run");
  return read_from(detail::file_source(file), file, parts);
}

CheckpointData parse_checkpoint(const std::string& bytes, const fs::path& file) {
  return read_from(detail::memory_source(bytes), file, CheckpointParts::all);
}

}  // namespace charnn
