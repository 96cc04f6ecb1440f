// Shared by the libFuzzer targets: the input as bytes, and a first byte used as a switch, so one
// target can drive several options of the code under test from the fuzzer's own bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace charnn::fuzz {

struct Input {
  std::uint8_t mode = 0;  // the first byte, 0 when there is none
  std::string_view rest;  // the others
};

inline Input split_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {};
  return {data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

// Ends the process the way libFuzzer reports a crash: an invariant of the code under test broke.
[[noreturn]] inline void broken_invariant() { __builtin_trap(); }

}  // namespace charnn::fuzz
