// Checkpoint files: writing (atomic, checksummed) and reading (every defect is one clear error).
// Format in checkpoint.hpp; the model built from one, and finding the checkpoint a command should
// use, in checkpoint_model.cpp.
#include "charnn/checkpoint.hpp"
#include "util.hpp"

#include <charnn/atomic_file.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>


#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace charnn {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'C', 'H', 'A', 'R', 'N', 'N', 'C', 'K'};
constexpr std::size_t kPreamble = 8 + 4 + 4 + 8;  // magic, version, reserved, payload size
constexpr std::size_t kTrailer = 8;               // checksum

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void put_section(std::string& out, const char (&tag)[5], const void* data, std::size_t size) {
  out.append(tag, 4);
  put_u64(out, size);
  out.append(static_cast<const char*>(data), size);
}

void put_floats(std::string& out, const char (&tag)[5], const std::vector<float>& v) {
  static_assert(sizeof(float) == 4);
  // Floats are stored little-endian, which is the host order on every platform charnn targets.
  put_section(out, tag, v.data(), v.size() * sizeof(float));
}

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

[[noreturn]] void bad(const fs::path& file, const std::string& what, std::string hint = {}) {
  if (hint.empty())
    hint =
        "the file is damaged or not a charnn checkpoint; use another checkpoint of the run "
        "(best.ckpt / last.ckpt) or retrain";
  throw error(file.string() + ": " + what, hint);
}

std::string sys_error() {
  return std::strerror(errno);
}

}  // namespace

std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void CheckpointData::set(const std::string& key, std::int64_t value) {
  header[key] = std::to_string(value);
}

void CheckpointData::set(const std::string& key, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", value);
  header[key] = buf;
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

std::string checkpoint_bytes(const CheckpointData& data) {
  // The model and plugin entries are derived from the typed fields so they can never disagree.
  std::map<std::string, std::string> header = data.header;
  header["model.cells"] = join(data.model.cells, ',');
  header["model.hidden"] = std::to_string(data.model.hidden);
  header["model.vocab_size"] = std::to_string(data.model.vocab_size);
  {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", static_cast<double>(data.model.dropout));
    header["model.dropout"] = buf;
  }
  header["model.dropout_mask"] = to_string(data.model.dropout_mask);
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

  // One buffer, framed in place: a checkpoint is tens of MB, and a copy would double that.
  std::string out(kMagic, 8);
  put_u32(out, kCheckpointFormatVersion);
  put_u32(out, 0);
  put_u64(out, 0);  // the payload's size, set below
  out.reserve(kPreamble + head.size() + vocab.size() +
              4 * (data.params.size() + data.optimizer.size() + data.state.size() +
                   data.live.size() + data.average.size()) +
              100 + kTrailer);
  put_section(out, "HEAD", head.data(), head.size());
  put_section(out, "VOCB", vocab.data(), vocab.size());
  put_floats(out, "PARM", data.params);
  if (!data.optimizer.empty()) put_floats(out, "OPTM", data.optimizer);
  if (!data.state.empty()) put_floats(out, "STAT", data.state);
  if (!data.live.empty()) put_floats(out, "LIVE", data.live);
  if (!data.average.empty()) put_floats(out, "AVRG", data.average);
  const std::size_t payload = out.size() - kPreamble;
  std::string size;
  put_u64(size, payload);
  out.replace(16, 8, size);
  put_u64(out, fnv1a64(out.data() + kPreamble, payload));
  return out;
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

// Checks the envelope (magic, version, size, checksum) of a whole checkpoint file's bytes and
// returns its payload: the sections.
std::string_view checked_payload(const fs::path& file, const std::string& bytes) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    if (bytes.size() < 8 && std::memcmp(bytes.data(), kMagic, bytes.size()) == 0)
      bad(file, "truncated: " + std::to_string(bytes.size()) + " bytes, not even a header");
    bad(file, "not a charnn checkpoint (it does not start with the magic 'CHARNNCK')",
        "pass a checkpoint written by 'charnn train' (best.ckpt or last.ckpt in a run directory)");
  }
  if (bytes.size() < kPreamble)
    bad(file, "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the header");
  const std::uint32_t version = get_u32(bytes.data() + 8);
  if (version > kCheckpointFormatVersion)
    bad(file,
        "written by a newer charnn (checkpoint format " + std::to_string(version) +
            "; this build reads up to " + std::to_string(kCheckpointFormatVersion) + ")",
        "use a newer charnn to read it");
  if (version == 0) bad(file, "corrupt: format version 0");
  // Compared with what the file holds, never added to: a damaged size near 2^64 would wrap.
  const std::uint64_t payload_size = get_u64(bytes.data() + 16);
  const std::uint64_t after_preamble = bytes.size() - kPreamble;
  if (after_preamble < kTrailer || payload_size > after_preamble - kTrailer)
    bad(file, "truncated: " + std::to_string(bytes.size()) +
                  " bytes where the header promises a payload of " + std::to_string(payload_size) +
                  " (an interrupted copy?)");
  if (payload_size < after_preamble - kTrailer)
    bad(file, "corrupt: " + std::to_string(after_preamble - kTrailer - payload_size) +
                  " unexpected bytes after the end of the checkpoint");
  const char* payload = bytes.data() + kPreamble;
  const std::uint64_t stored = get_u64(payload + payload_size);
  const std::uint64_t actual = fnv1a64(payload, payload_size);
  if (stored != actual) bad(file, "corrupt: checksum mismatch (the contents were altered)");
  return std::string_view(payload, payload_size);
}

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

// The sections of a checked payload into data: HEAD, VOCB and PARM are required, OPTM, STAT,
// LIVE and AVRG optional, and unknown tags (a newer minor revision) skipped.
void read_sections(const fs::path& file, std::string_view sections, CheckpointData& data) {
  const char* payload = sections.data();
  const std::uint64_t payload_size = sections.size();
  bool have_head = false, have_vocab = false, have_params = false;
  std::uint64_t pos = 0;
  auto floats = [&](const char* p, std::uint64_t len, const char* tag) {
    if (len % 4)
      bad(file, std::string("corrupt: section ") + tag + " is not a whole number of floats");
    std::vector<float> v(len / 4);
    if (len) std::memcpy(v.data(), p, len);  // an empty section has no data() to copy to
    return v;
  };
  while (pos < payload_size) {
    if (payload_size - pos < 12) bad(file, "corrupt: a section header is cut short");
    const std::string tag(payload + pos, 4);
    const std::uint64_t len = get_u64(payload + pos + 4);
    pos += 12;
    if (len > payload_size - pos) bad(file, "corrupt: section " + tag + " runs past the end");
    const char* p = payload + pos;
    if (tag == "HEAD") {
      read_head(file, std::string_view(p, len), data);
      have_head = true;
    } else if (tag == "VOCB") {
      std::istringstream vin(std::string(p, len));
      try {
        data.vocab = Vocab::load(vin);
      } catch (const error& e) {
        bad(file, std::string("corrupt vocabulary: ") + e.what());
      }
      have_vocab = true;
    } else if (tag == "PARM") {
      data.params = floats(p, len, "PARM");
      have_params = true;
    } else if (tag == "OPTM") {
      data.optimizer = floats(p, len, "OPTM");
    } else if (tag == "STAT") {
      data.state = floats(p, len, "STAT");
    } else if (tag == "LIVE") {
      data.live = floats(p, len, "LIVE");
    } else if (tag == "AVRG") {
      data.average = floats(p, len, "AVRG");
    }  // unknown sections: written by a newer minor revision; skipped
    pos += len;
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

CheckpointData read_checkpoint(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw error(file.string() + ": no such checkpoint file");
  if (fs::is_directory(file, ec))
    throw error(file.string() + ": is a directory, not a checkpoint file",
                "pass a .ckpt file, or use --model RUN_DIR where a command accepts a run");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw error(file.string() + ": cannot open: " + sys_error());
  // In blocks, not through istreambuf_iterator's one character at a time: that cost a 252 MB
  // checkpoint 0.35 s or more of sample's start-up.
  std::string bytes;
  std::error_code size_ec;
  const std::uintmax_t size = fs::file_size(file, size_ec);
  if (!size_ec) bytes.reserve(size);
  std::vector<char> block(1 << 20);
  while (in.read(block.data(), static_cast<std::streamsize>(block.size())) || in.gcount() > 0)
    bytes.append(block.data(), static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw error(file.string() + ": read error: " + sys_error());

  return parse_checkpoint(bytes, file);
}

CheckpointData parse_checkpoint(const std::string& bytes, const fs::path& file) {
  CheckpointData data;
  data.file = file;
  read_sections(file, checked_payload(file, bytes), data);
  read_model_config(file, data);
  return data;
}

}  // namespace charnn
