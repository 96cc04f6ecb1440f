// .npy writer (see npy.hpp). The header is complete before the first row because the caller
// knows the shape (a dump knows its unit count from unit_boundaries), so nothing is patched.
#include "charnn/npy.hpp"

#include <bit>

#include "charnn/error.hpp"

namespace charnn {

static_assert(std::endian::native == std::endian::little,
              "npy.cpp writes host floats as '<f4'; add byte swapping for big-endian hosts");

std::string npy_header(std::span<const std::int64_t> shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // magic (6) + version (2) + header length (2) + dict + padding + '\n' = multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  const auto len = static_cast<std::uint16_t>(dict.size());
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(len & 0xff);
  header += static_cast<char>(len >> 8);
  return header + dict;
}

NpyWriter::NpyWriter(std::filesystem::path file, std::vector<std::int64_t> shape)
    : out_(std::move(file)), shape_(std::move(shape)) {
  for (auto d : shape_) {
    if (d < 0) throw error("npy: negative dimension for " + out_.target().string());
    expected_ *= d;
  }
  out_.stream() << npy_header(shape_);
}

void NpyWriter::write(std::span<const float> values) {
  if (written_ + static_cast<std::int64_t>(values.size()) > expected_)
    throw error("npy: more values than the shape holds for " + out_.target().string());
  out_.stream().write(reinterpret_cast<const char*>(values.data()),
                      static_cast<std::streamsize>(values.size() * sizeof(float)));
  written_ += static_cast<std::int64_t>(values.size());
}

void NpyWriter::commit() {
  if (written_ != expected_)
    throw error("npy: " + out_.target().string() + " got " + std::to_string(written_) +
                " values, its shape needs " + std::to_string(expected_));
  out_.commit();
}

}  // namespace charnn
