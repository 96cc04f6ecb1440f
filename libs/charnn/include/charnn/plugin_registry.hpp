// Finding and loading cell plugins. Search order: explicit files (--plugin), then each directory
// in CHARNN_PLUGIN_PATH (':'-separated), then the plugin directory beside the program
// (<exe>/../lib/charnn/plugins, the same in the build tree and once installed). A library that
// is not a valid plugin is skipped with a one-line reason; the rest still load.
#pragma once

#include <charnn/plugin.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class Cell;

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

struct SkippedLibrary {
  std::filesystem::path file;
  std::string reason;
};

struct PluginSearch {
  std::vector<std::filesystem::path> files;  // --plugin FILE, in order
  bool use_env = true;                       // CHARNN_PLUGIN_PATH
  bool use_default_dir = true;               // beside the program
};

class PluginRegistry {
 public:
  // Throws charnn::error when two libraries claim one cell name (naming both files).
  static PluginRegistry discover(const PluginSearch& search = {});

  // nullptr when no plugin has that name.
  std::shared_ptr<const Plugin> find(std::string_view name) const;
  // Like find, but throws charnn::error naming the missing cell and listing the ones available.
  std::shared_ptr<const Plugin> get(std::string_view name) const;
  Cell create_cell(std::string_view name, std::int64_t input_size, std::int64_t hidden_size) const;

  const std::vector<std::shared_ptr<const Plugin>>& plugins() const { return plugins_; }
  const std::vector<SkippedLibrary>& skipped() const { return skipped_; }
  const std::vector<std::filesystem::path>& searched_dirs() const { return dirs_; }

 private:
  std::vector<std::shared_ptr<const Plugin>> plugins_;
  std::vector<SkippedLibrary> skipped_;
  std::vector<std::filesystem::path> dirs_;
};

// <directory of the running program>/../lib/charnn/plugins; empty if /proc/self/exe is unreadable.
std::filesystem::path default_plugin_dir();

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
