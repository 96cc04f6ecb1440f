// Finding and loading cell plugins. Search order: explicit files (--plugin), then each directory
// in CHARNN_PLUGIN_PATH (':'-separated), then the plugin directory beside the program
// (<exe>/../lib/charnn/plugins, the same in the build tree and once installed). A library that
// is not a valid plugin is skipped with a one-line reason; the rest still load.
#pragma once

#include <charnn/loaded_plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class Cell;

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


}  // namespace charnn
