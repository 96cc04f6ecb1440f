// The one exception type thrown inside charnn. Every message names what went wrong and where
// (file, byte offset, line, column when known); the hint says what the user can do about it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace charnn {

class error : public std::runtime_error {
 public:
  explicit error(const std::string& message, std::string hint = {}, int exit_code = 1)
      : std::runtime_error(message), hint_(std::move(hint)), exit_code_(exit_code) {}
  const std::string& hint() const noexcept { return hint_; }
  // The process exit code the app uses for this error (1 = bad input or failure).
  int exit_code() const noexcept { return exit_code_; }

 private:
  std::string hint_;
  int exit_code_;
};

// "path:line:column (byte N)" — the position format every input error uses. line and column
// are 1-based; column counts code points.
std::string describe_position(const std::filesystem::path& file, std::uint64_t byte_offset,
                              std::uint64_t line, std::uint64_t column);

}  // namespace charnn
