// The training config as a checkpoint header stores it (config.* key=value lines): any keys and
// values give a config or one charnn::error. A config that reads and validates writes back to
// keys that read to the same keys.
#include <charnn/error.hpp>
#include <charnn/train_config.hpp>

#include <map>
#include <string>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> keys;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const std::size_t eq = line.find('=');
    if (eq != std::string_view::npos)
      keys[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    start = end + 1;
  }
  try {
    const charnn::TrainConfig c = charnn::config_from_keys(keys, "fuzz.ckpt");
    charnn::validate(c);
    const auto again = charnn::config_to_keys(c);
    if (charnn::config_to_keys(charnn::config_from_keys(again, "again")) != again)
      charnn::fuzz::broken_invariant();
    (void)charnn::config_to_json(c);
  } catch (const charnn::error&) {
  }
  return 0;
}
