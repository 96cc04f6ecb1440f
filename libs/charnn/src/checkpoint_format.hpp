// The checkpoint file's container: a preamble, tagged sections and checksums, in format 1 or 2
// (layout in charnn/checkpoint.hpp). What the sections hold is checkpoint.cpp's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace charnn::detail {

// Frames sections into the bytes of one file.
class CheckpointWriter {
 public:
  // `reserve`: the bytes the sections will hold, so the buffer is allocated once (a training
  // checkpoint is tens to hundreds of MB, and a copy would double that).
  CheckpointWriter(std::uint32_t format, std::size_t reserve);
  void section(std::string_view tag, const void* data, std::size_t size);
  std::string finish() &&;

 private:
  std::uint32_t format_;
  std::string out_;
  std::string table_;  // format 2: each section's tag, length and checksum, for the trailer
};

// Where a checkpoint's bytes come from: a file read piece by piece, or bytes in memory.
class CheckpointSource {
 public:
  virtual ~CheckpointSource() = default;
  virtual std::uint64_t size() const = 0;
  // Copies n bytes from offset into out; the range lies within size().
  virtual void read(std::uint64_t offset, std::size_t n, void* out) = 0;
};
std::unique_ptr<CheckpointSource> file_source(const std::filesystem::path& file);
std::unique_ptr<CheckpointSource> memory_source(std::string_view bytes);

// Opens a checkpoint: checks the preamble (magic, version, size) and the sections' framing.
// Format 1 has one checksum over everything, so its whole payload is read and checked here.
// Format 2 checks its section table here (tags, lengths and checksums, against the trailer) and
// each section's bytes when they are read, so a reader reads only the sections it uses.
// Every defect is one charnn::error naming `file`.
class CheckpointReader {
 public:
  struct Section {
    std::string tag;
    std::uint64_t offset = 0;    // of its bytes, in the source
    std::uint64_t length = 0;    // its bytes
    std::uint64_t checksum = 0;  // format 2: checksum64 of its tag, length and bytes
  };
  CheckpointReader(std::unique_ptr<CheckpointSource> source, std::filesystem::path file);
  const std::vector<Section>& sections() const { return sections_; }
  // Reads the section's `length` bytes into out, checked against its checksum.
  void read(const Section& section, void* out);

 private:
  void walk(std::uint64_t begin, std::uint64_t end);

  std::unique_ptr<CheckpointSource> source_;
  std::filesystem::path file_;
  std::uint32_t format_ = 0;
  std::vector<Section> sections_;
};

// The error every damaged file ends in: "FILE: what", with a hint to use another checkpoint.
[[noreturn]] void bad_checkpoint(const std::filesystem::path& file, const std::string& what,
                                 std::string hint = {});

}  // namespace charnn::detail
