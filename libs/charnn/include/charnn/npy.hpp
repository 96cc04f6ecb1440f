// NumPy .npy files (format 1.0): float32, C order, a shape fixed up front, rows streamed in.
// numpy.load reads the result directly. Written through AtomicFile, so the file appears only
// once every row is in.
#pragma once

#include <charnn/atomic_file.hpp>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace charnn {

// The complete header for a little-endian float32 C-order array: magic, version 1.0, length,
// the dict "{'descr': '<f4', 'fortran_order': False, 'shape': (...), }" padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64 bytes.
std::string npy_header(std::span<const std::int64_t> shape);

class NpyWriter {
 public:
  // shape: every dimension >= 0; the product is the number of floats write() must receive.
  NpyWriter(std::filesystem::path file, std::vector<std::int64_t> shape);
  // Appends values in C order. Throws charnn::error when more than the shape holds arrive.
  void write(std::span<const float> values);
  // Checks the count is complete and renames the file into place.
  void commit();
  const std::filesystem::path& file() const { return out_.target(); }

 private:
  AtomicFile out_;
  std::vector<std::int64_t> shape_;
  std::int64_t expected_ = 1, written_ = 0;
};

}  // namespace charnn
