// Discovering cell plugins in the search path (loading one library is loaded_plugin.cpp's job).
#include "charnn/plugin_registry.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "charnn/cell.hpp"
#include "charnn/error.hpp"
#include "util.hpp"

namespace charnn {

namespace {

bool has_so_suffix(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0;
}

}  // namespace

using detail::absolute_path;

PluginRegistry PluginRegistry::discover(const PluginSearch& search) {
  PluginRegistry reg;
  std::set<std::filesystem::path> seen;  // the same file reached twice is loaded once

  // explicit: the user named this file, so a failure is an error rather than a skip.
  auto add = [&](const std::filesystem::path& file, bool explicit_file) {
    const std::filesystem::path path = absolute_path(file);
    if (!seen.insert(path).second) return;
    std::shared_ptr<const Plugin> plugin;
    try {
      plugin = Plugin::load(path);
    } catch (const PluginLoadError& e) {
      if (explicit_file)
        throw error("--plugin " + path.string() + ": " + e.reason(),
                    e.reason() == "no such file"
                        ? "check the path; --plugin takes a library file such as "
                          "charnn-cell-<name>.so"
                        : "build the plugin against this charnn's plugin.h; 'charnn cells "
                          "--verbose' shows what else was found");
      reg.skipped_.push_back({path, e.reason()});
      return;
    }
    for (const auto& other : reg.plugins_) {
      if (other->name() == plugin->name())
        throw error("two plugins claim the cell name '" + plugin->name() +
                        "': " + other->file().string() + " and " + plugin->file().string(),
                    "remove or rename one of them (plugins from --plugin and CHARNN_PLUGIN_PATH "
                    "are added to the built-in ones, they do not replace them)");
    }
    reg.plugins_.push_back(std::move(plugin));
  };

  auto scan = [&](const std::filesystem::path& dir) {
    const std::filesystem::path path = absolute_path(dir);
    if (std::find(reg.dirs_.begin(), reg.dirs_.end(), path) != reg.dirs_.end()) return;
    reg.dirs_.push_back(path);
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return;  // absent dirs are normal (no plugins)
    std::vector<std::filesystem::path> libs;
    std::filesystem::directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      // A dangling symlink is listed (and later skipped as "no such file"), so its own status
      // error must not end the directory walk.
      std::error_code entry_ec;
      if (has_so_suffix(it->path()) && !it->is_directory(entry_ec)) libs.push_back(it->path());
    }
    if (ec) {
      reg.skipped_.push_back({path, "cannot read the directory: " + ec.message()});
      return;
    }
    std::sort(libs.begin(), libs.end());  // load order, and so error messages, are reproducible
    for (const auto& lib : libs) add(lib, false);
  };

  for (const auto& file : search.files) add(file, true);
  if (search.use_env) {
    if (const char* env = std::getenv("CHARNN_PLUGIN_PATH")) {
      std::string_view rest = env;
      while (!rest.empty()) {
        const auto colon = rest.find(':');
        const std::string_view dir = rest.substr(0, colon);
        if (!dir.empty()) scan(std::filesystem::path(std::string(dir)));
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      }
    }
  }
  if (search.use_default_dir) {
    if (auto dir = default_plugin_dir(); !dir.empty()) scan(dir);
  }
  return reg;
}

std::shared_ptr<const Plugin> PluginRegistry::find(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->name() == name) return p;
  return nullptr;
}

std::shared_ptr<const Plugin> PluginRegistry::get(std::string_view name) const {
  if (auto p = find(name)) return p;
  std::string available;
  for (const auto& p : plugins_) available += (available.empty() ? "" : ", ") + p->name();
  std::string message = "no cell plugin named '" + std::string(name) + "'; ";
  message += available.empty() ? "no cell plugins were found" : "available: " + available;
  std::string where;
  for (const auto& d : dirs_) where += (where.empty() ? "" : ", ") + d.string();
  message += where.empty() ? "" : " (searched " + where + ")";
  // A library that looks like the wanted cell but was skipped is the likely explanation.
  const std::string wanted_file = "charnn-cell-" + std::string(name) + ".so";
  for (const auto& s : skipped_) {
    if (s.file.filename() == wanted_file)
      message += "; " + s.file.string() + " was skipped: " + s.reason;
  }
  throw error(message,
              "put the plugin in one of those directories, add its directory to "
              "CHARNN_PLUGIN_PATH, or pass --plugin FILE; 'charnn cells --verbose' lists what "
              "was found and skipped");
}

Cell PluginRegistry::create_cell(std::string_view name, std::int64_t input_size,
                                 std::int64_t hidden_size) const {
  return Cell(get(name), input_size, hidden_size);
}

std::filesystem::path default_plugin_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (exe.parent_path() / ".." / CHARNN_PLUGIN_SUBDIR).lexically_normal();
}

}  // namespace charnn
