// One loaded cell plugin library: dlopen, the checks of its C table against plugin.h (same ABI
// major, a struct no larger than ours, every required function present), and the table copied
// into a host-sized struct. Finding plugins in the search path is plugin_registry.hpp's job.
#pragma once

#include <charnn/plugin.h>
#include <charnn/error.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace charnn {

// A loaded plugin library. The library is unloaded only when the last Plugin reference (held
// by the registry and by every Cell created from it) goes away.
class Plugin {
 public:
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }
  const std::filesystem::path& file() const { return file_; }
  // The plugin's table, copied into a host-sized struct with unknown trailing fields zeroed.
  const charnn_cell_api& api() const { return api_; }

  // Loads one library; throws charnn::error with the one-line reason it is not a usable plugin.
  static std::shared_ptr<const Plugin> load(const std::filesystem::path& file);

 private:
  Plugin() = default;
  void* handle_ = nullptr;
  charnn_cell_api api_{};
  std::string name_, version_, description_;
  std::filesystem::path file_;
};

// Why a library is not a usable plugin. The message names the file; reason() is the bare reason,
// which discovery records for 'charnn cells --verbose'.
class PluginLoadError : public error {
 public:
  PluginLoadError(const std::filesystem::path& file, std::string reason);
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

namespace detail {
// Validates a plugin's table and copies it into `out` (a host-sized struct): the first
// table->struct_size bytes are copied and every later field is zeroed. `required_size` is the
// smallest acceptable struct_size (default: the end of the last function ABI 1.0 requires; tests
// pass a smaller one to exercise the zero-fill an older plugin gets). Returns "" when usable,
// else the one-line reason; on failure `out` is all zeros.
std::string adopt_api_table(const charnn_cell_api* table, charnn_cell_api& out);
std::string adopt_api_table(const charnn_cell_api* table, charnn_cell_api& out,
                            std::size_t required_size);
}  // namespace detail

}  // namespace charnn
