// The binary vocabulary (as stored in checkpoints): any bytes load or give one charnn::error;
// what loads saves back to the bytes it came from.
#include <charnn/error.hpp>
#include <charnn/vocab.hpp>

#include <sstream>
#include <string>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::istringstream in(bytes);
  try {
    const charnn::Vocab v = charnn::Vocab::load(in);
    std::ostringstream out;
    v.save(out);
    const auto used = static_cast<std::size_t>(in.tellg());
    if (out.str() != bytes.substr(0, used)) charnn::fuzz::broken_invariant();
    (void)v.to_json();
  } catch (const charnn::error&) {
  }
  return 0;
}
