// --plugin FILE, shared by every subcommand that creates cells: one place decides how the
// command line, CHARNN_PLUGIN_PATH and the built-in plugin directory combine.
#include <charnn/plugin_registry.hpp>

#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

void add_plugin_options(po::options_description& options) {
  options.add_options()(
      "plugin", po::value<std::vector<std::string>>()->value_name("FILE")->composing(),
      "load the cell plugin library FILE (repeatable). Searched first, then the directories in "
      "CHARNN_PLUGIN_PATH (':'-separated), then the built-in plugin directory");
}

charnn::PluginRegistry load_plugins(const po::variables_map& vm) {
  charnn::PluginSearch search;
  if (vm.count("plugin")) {
    for (const auto& f : vm["plugin"].as<std::vector<std::string>>()) search.files.emplace_back(f);
  }
  return charnn::PluginRegistry::discover(search);
}

}  // namespace charnn::app
