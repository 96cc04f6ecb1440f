// Formatting shared by every input error.
#include "charnn/error.hpp"

namespace charnn {

std::string describe_position(const std::filesystem::path& file, std::uint64_t byte_offset,
                              std::uint64_t line, std::uint64_t column) {
  return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column) + " (byte " +
         std::to_string(byte_offset) + ")";
}

}  // namespace charnn
