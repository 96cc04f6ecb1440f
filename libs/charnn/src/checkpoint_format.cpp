#include "checkpoint_format.hpp"

#include <charnn/checkpoint.hpp>
#include <charnn/checksum.hpp>
#include <charnn/error.hpp>
#include <charnn/text.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace charnn::detail {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'C', 'H', 'A', 'R', 'N', 'N', 'C', 'K'};
constexpr std::size_t kPreamble = 8 + 4 + 4 + 8;  // magic, version, reserved, payload size
constexpr std::size_t kTrailer = 8;               // format 1: the payload's checksum; 2: the table's
constexpr std::size_t kSectionHeader = 4 + 8;     // tag, length
constexpr std::size_t kSectionChecksum = 8;       // format 2 only

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

std::string section_header(std::string_view tag, std::uint64_t length) {
  std::string h(tag);
  put_u64(h, length);
  return h;
}

// A section's entry in the format-2 table: its header and its checksum.
std::string table_entry(std::string_view tag, std::uint64_t length, std::uint64_t checksum) {
  std::string e = section_header(tag, length);
  put_u64(e, checksum);
  return e;
}

class FileSource final : public CheckpointSource {
 public:
  explicit FileSource(const fs::path& file) : file_(file), in_(file, std::ios::binary) {
    if (!in_) throw error(file.string() + ": cannot open: " + std::strerror(errno));
    // The size of the file opened, not of whatever the path names by now.
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    if (end < 0) throw error(file.string() + ": cannot read its size");
    size_ = static_cast<std::uint64_t>(end);
  }
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, std::size_t n, void* out) override {
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n)
      throw error(file_.string() + ": read error at byte " + std::to_string(offset) + ": " +
                      (in_.bad() ? std::strerror(errno) : "the file got shorter while read"),
                  "check the disk, or that nothing else writes the file");
  }

 private:
  fs::path file_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

class MemorySource final : public CheckpointSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, std::size_t n, void* out) override {
    if (n) std::memcpy(out, bytes_.data() + offset, n);
  }

 private:
  std::string_view bytes_;
};

// Format 1's payload, read whole and checked at open; its sections are then read from it.
class OwnedSource final : public CheckpointSource {
 public:
  OwnedSource(std::string bytes, std::uint64_t base) : bytes_(std::move(bytes)), base_(base) {}
  std::uint64_t size() const override { return base_ + bytes_.size(); }
  void read(std::uint64_t offset, std::size_t n, void* out) override {
    if (n) std::memcpy(out, bytes_.data() + (offset - base_), n);
  }

 private:
  std::string bytes_;
  std::uint64_t base_;  // the offset of bytes_[0] in the file
};

}  // namespace

void bad_checkpoint(const fs::path& file, const std::string& what, std::string hint) {
  if (hint.empty())
    hint =
        "the file is damaged or not a charnn checkpoint; use another checkpoint of the run "
        "(best.ckpt / last.ckpt) or retrain";
  throw error(file.string() + ": " + what, hint);
}

std::unique_ptr<CheckpointSource> file_source(const fs::path& file) {
  return std::make_unique<FileSource>(file);
}

std::unique_ptr<CheckpointSource> memory_source(std::string_view bytes) {
  return std::make_unique<MemorySource>(bytes);
}

CheckpointWriter::CheckpointWriter(std::uint32_t format, std::size_t reserve) : format_(format) {
  if (format != 1 && format != 2)
    throw std::invalid_argument("checkpoint format " + std::to_string(format) + " is not written");
  out_.reserve(kPreamble + reserve + 8 * (kSectionHeader + kSectionChecksum) + kTrailer);
  out_.append(kMagic, 8);
  put_u32(out_, format);
  put_u32(out_, 0);
  put_u64(out_, 0);  // the payload's size, set by finish()
}

void CheckpointWriter::section(std::string_view tag, const void* data, std::size_t size) {
  const std::string header = section_header(tag, size);
  out_ += header;
  out_.append(static_cast<const char*>(data), size);
  if (format_ == 2) {
    const std::uint64_t sum = checksum64(data, size, checksum64(header.data(), header.size()));
    put_u64(out_, sum);
    table_ += table_entry(tag, size, sum);
  }
}

std::string CheckpointWriter::finish() && {
  const std::size_t payload = out_.size() - kPreamble;
  std::string size;
  put_u64(size, payload);
  out_.replace(16, 8, size);
  if (format_ == 1)
    put_u64(out_, fnv1a64(out_.data() + kPreamble, payload));
  else
    put_u64(out_, checksum64(table_.data(), table_.size(), checksum64(out_.data(), kPreamble)));
  return std::move(out_);
}

CheckpointReader::CheckpointReader(std::unique_ptr<CheckpointSource> source, fs::path file)
    : source_(std::move(source)), file_(std::move(file)) {
  const std::uint64_t size = source_->size();
  char pre[kPreamble];
  const std::size_t have = static_cast<std::size_t>(std::min<std::uint64_t>(size, kPreamble));
  source_->read(0, have, pre);
  if (have < 8 || std::memcmp(pre, kMagic, 8) != 0) {
    if (have < 8 && std::memcmp(pre, kMagic, have) == 0)
      bad_checkpoint(file_, "truncated: " + std::to_string(size) + " bytes, not even a header");
    bad_checkpoint(
        file_, "not a charnn checkpoint (it does not start with the magic 'CHARNNCK')",
        "pass a checkpoint written by 'charnn train' (best.ckpt or last.ckpt in a run directory)");
  }
  if (have < kPreamble)
    bad_checkpoint(file_,
                   "truncated: " + std::to_string(size) + " bytes, shorter than the header");
  format_ = get_u32(pre + 8);
  if (format_ > kCheckpointFormatVersion)
    bad_checkpoint(file_,
                   "written by a newer charnn (checkpoint format " + std::to_string(format_) +
                       "; this build reads up to " + std::to_string(kCheckpointFormatVersion) +
                       ")",
                   "use a newer charnn to read it");
  if (format_ == 0) bad_checkpoint(file_, "corrupt: format version 0");
  // Compared with what the source holds, never added to: a damaged size near 2^64 would wrap.
  const std::uint64_t payload = get_u64(pre + 16);
  const std::uint64_t after_preamble = size - kPreamble;
  if (after_preamble < kTrailer || payload > after_preamble - kTrailer)
    bad_checkpoint(file_, "truncated: " + std::to_string(size) +
                              " bytes where the header promises a payload of " +
                              std::to_string(payload) + " (an interrupted copy?)");
  if (payload < after_preamble - kTrailer)
    bad_checkpoint(file_, "corrupt: " + std::to_string(after_preamble - kTrailer - payload) +
                              " unexpected bytes after the end of the checkpoint");
  char trailer[kTrailer];
  source_->read(kPreamble + payload, kTrailer, trailer);
  const std::uint64_t stored = get_u64(trailer);

  if (format_ == 1) {
    // The payload's size is bounded by the source's: the allocation is the file's own.
    std::string bytes(static_cast<std::size_t>(payload), '\0');
    source_->read(kPreamble, bytes.size(), bytes.data());
    if (fnv1a64(bytes.data(), bytes.size()) != stored)
      bad_checkpoint(file_, "corrupt: checksum mismatch (the contents were altered)");
    source_ = std::make_unique<OwnedSource>(std::move(bytes), kPreamble);
  }
  walk(kPreamble, kPreamble + payload);
  if (format_ == 2) {
    std::string table;
    for (const Section& s : sections_) table += table_entry(s.tag, s.length, s.checksum);
    if (checksum64(table.data(), table.size(), checksum64(pre, kPreamble)) != stored)
      bad_checkpoint(file_,
                     "corrupt: checksum mismatch in the section table (the file was altered)");
  }
}

void CheckpointReader::walk(std::uint64_t pos, std::uint64_t end) {
  const std::uint64_t sum_size = format_ == 2 ? kSectionChecksum : 0;
  while (pos < end) {
    if (end - pos < kSectionHeader)
      bad_checkpoint(file_, "corrupt: the section header at byte " + std::to_string(pos) +
                                " is cut short");
    char header[kSectionHeader];
    source_->read(pos, kSectionHeader, header);
    Section s;
    s.tag.assign(header, 4);
    s.length = get_u64(header + 4);
    pos += kSectionHeader;
    if (end - pos < sum_size || s.length > end - pos - sum_size)
      bad_checkpoint(file_, "corrupt: section " + escape_unit(s.tag) + " at byte " +
                                std::to_string(pos - kSectionHeader) + " runs past the end");
    s.offset = pos;
    pos += s.length;
    if (format_ == 2) {
      char sum[kSectionChecksum];
      source_->read(pos, kSectionChecksum, sum);
      s.checksum = get_u64(sum);
      pos += kSectionChecksum;
    }
    sections_.push_back(std::move(s));
  }
}

void CheckpointReader::read(const Section& s, void* out) {
  source_->read(s.offset, static_cast<std::size_t>(s.length), out);
  if (format_ != 2) return;  // format 1 was checked whole at open
  const std::string header = section_header(s.tag, s.length);
  const std::uint64_t sum = checksum64(out, static_cast<std::size_t>(s.length),
                                       checksum64(header.data(), header.size()));
  if (sum != s.checksum)
    bad_checkpoint(file_, "corrupt: checksum mismatch in section " + escape_unit(s.tag) +
                              " (the contents were altered)");
}

}  // namespace charnn::detail
