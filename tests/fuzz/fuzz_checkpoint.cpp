// The checkpoint reader, then the model a checkpoint describes: any bytes give a checkpoint or
// one charnn::error, never a crash, a wild read or an allocation the file does not justify.
// Odd first byte: the rest is framed as a format-1 payload (sections without checksums) with a
// correct size and checksum, so the mutations reach what the sections hold; format 2 checks each
// section, and its framing is reached through the raw mode.
#include <charnn/checkpoint.hpp>
#include <charnn/checksum.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>

#include <string>

#include "fuzz_support.hpp"

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string framed(std::string_view payload) {
  std::string out("CHARNNCK\x01\0\0\0\0\0\0\0", 16);
  put_u64(out, payload.size());
  out.append(payload);
  put_u64(out, charnn::fnv1a64(payload.data(), payload.size()));
  return out;
}

const charnn::PluginRegistry& plugins() {
  static const charnn::PluginRegistry registry = [] {
    charnn::PluginSearch search;
    search.files = {CHARNN_PLUGIN_DIR "/charnn-cell-lstm.so", CHARNN_PLUGIN_DIR "/charnn-cell-elman.so"};
    search.use_env = false;
    search.use_default_dir = false;
    return charnn::PluginRegistry::discover(search);
  }();
  return registry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = charnn::fuzz::split_input(data, size);
  const std::string bytes = (in.mode & 1) ? framed(in.rest) : std::string(in.rest);
  try {
    const charnn::CheckpointData d = charnn::parse_checkpoint(bytes, "fuzz.ckpt");
    auto model = charnn::model_from_checkpoint(d, plugins());
    if (model->params().size() != d.params.size()) charnn::fuzz::broken_invariant();
  } catch (const charnn::error&) {
  }
  return 0;
}
