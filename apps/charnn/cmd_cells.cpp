// charnn cells: lists every cell plugin found, with its tensor shapes for an example layer size,
// so a user can see what --cell accepts and check that a plugin they wrote loads. --verbose
// adds where the loader looked and every library it skipped, with the reason.
#include <charnn/cell.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/train_plan.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

std::string join_dims(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
  return s + ")";
}

// 1234567 -> "1,234,567": parameter counts are read by people comparing cells.
std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t k = 0; k < digits.size(); ++k) {
    if (k && (digits.size() - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return out;
}

// Prints one plugin; returns false when it cannot make a layer of the example size.
bool print_plugin(std::ostream& out, const std::shared_ptr<const Plugin>& plugin,
                  std::int64_t input, std::int64_t hidden) {
  out << plugin->name() << " " << (plugin->version().empty() ? "(no version)" : plugin->version())
      << "  " << plugin->file().string() << "\n";
  if (!plugin->description().empty()) out << "  " << plugin->description() << "\n";
  try {
    Cell cell(plugin, input, hidden);
    out << "  for input " << input << ", hidden " << hidden << ":\n";
    out << "    states   ";
    for (std::size_t k = 0; k < cell.states().size(); ++k)
      out << (k ? ", " : "") << cell.states()[k] << " (N, " << hidden << ")";
    out << "\n    params   ";
    for (std::size_t k = 0; k < cell.params().size(); ++k)
      out << (k ? ", " : "") << cell.params()[k].name << " " << join_dims(cell.params()[k].dims);
    out << "  = " << grouped(cell.param_count()) << " floats\n";
    out << "    signals  ";
    if (cell.signals().empty()) out << "(none)";
    for (std::size_t k = 0; k < cell.signals().size(); ++k)
      out << (k ? ", " : "") << cell.signals()[k];
    out << "\n";
    if (const double lr = plugin->api().max_learning_rate; lr > 0)
      out << "    max lr   " << lr << " (its author's limit: train --lr auto plans no higher)\n";
    if (const double start = plugin->api().dropout_exposure; start > 0) {
      // Weight drop needs the recurrent weights named; without it the limit is lower.
      const bool w_h = charnn::names_recurrent_weights(cell);
      out << "    dropout  from exposure " << start
          << " (its author's start: train --dropout auto begins there, and --max-exposure auto "
             "ends a run at "
          << charnn::planned_max_exposure(start, w_h);
      if (w_h)
        out << ", or " << charnn::planned_max_exposure(start, false) << " with --weight-drop 0";
      out << ")\n";
    }
    return true;
  } catch (const charnn::error& e) {
    out << "  cannot create a layer of this size: " << e.what() << "\n";
    return false;
  }
}

}  // namespace

int run_cells(const std::vector<std::string>& args) {
  const CommandHelp help{
      "cells", "charnn cells [options]",
      "Lists the cell plugins charnn can load (the names 'charnn train --cell' accepts), each\n"
      "with its version, library file, description, and its state, parameter and trace-signal\n"
      "shapes for an example layer size, and the learning-rate limit and dropout start a plugin\n"
      "declares.\n"
      "Plugins are searched for in the --plugin files, then in\n"
      "the directories of CHARNN_PLUGIN_PATH (':'-separated), then in the built-in plugin\n"
      "directory beside the program. Libraries that are not valid plugins are skipped; --verbose\n"
      "says which and why.",
      "charnn cells --verbose --plugin ./charnn-cell-mycell.so --hidden 128"};
  std::int64_t input = 65, hidden = 512;
  po::options_description options("Options");
  options.add_options()("input", po::value(&input)->default_value(input)->value_name("I"),
                        "example input width (the vocabulary size for a first layer)")(
      "hidden", po::value(&hidden)->default_value(hidden)->value_name("H"), "example hidden width")(
      "verbose,v",
      "also list the directories searched and every library skipped, "
      "with the reason");
  add_plugin_options(options);
  po::variables_map vm;
  if (!parse_options(help, options, {}, args, vm)) return 0;
  if (input < 1 || hidden < 1)
    throw charnn::error("--input and --hidden must be at least 1",
                        "for example: charnn cells --input 65 --hidden 512");
  const bool verbose = vm.count("verbose") > 0;

  const PluginRegistry registry = load_plugins(vm);
  bool all_ok = true;
  for (const auto& plugin : registry.plugins()) {
    all_ok = print_plugin(std::cout, plugin, input, hidden) && all_ok;
    std::cout << "\n";
  }

  if (verbose) {
    std::cout << "Searched, in order:\n";
    if (vm.count("plugin")) {
      for (const auto& f : vm["plugin"].as<std::vector<std::string>>())
        std::cout << "  --plugin            " << f << "\n";
    }
    const std::filesystem::path builtin = default_plugin_dir();
    for (const auto& dir : registry.searched_dirs()) {
      std::error_code ec;
      std::cout << (dir == builtin ? "  built-in            " : "  CHARNN_PLUGIN_PATH  ")
                << dir.string() << (std::filesystem::is_directory(dir, ec) ? "" : "  (absent)")
                << "\n";
    }
    if (!std::getenv("CHARNN_PLUGIN_PATH")) std::cout << "  (CHARNN_PLUGIN_PATH is not set)\n";
    if (registry.skipped().empty())
      std::cout << "Skipped: none\n";
    else
      std::cout << "Skipped (" << registry.skipped().size() << "), not valid cell plugins:\n";
    for (const auto& s : registry.skipped())
      std::cout << "  " << s.file.string() << ": " << s.reason << "\n";
  }

  if (registry.plugins().empty()) {
    std::string where;
    for (const auto& d : registry.searched_dirs())
      where += (where.empty() ? "" : ", ") + d.string();
    throw charnn::error(
        "no cell plugins found" + (where.empty() ? "" : " (searched " + where + ")"),
        "the built-in cells belong in " + default_plugin_dir().string() +
            "; point CHARNN_PLUGIN_PATH at a directory of plugins or pass "
            "--plugin FILE; --verbose shows what was skipped");
  }
  return all_ok ? 0 : 1;
}

}  // namespace charnn::app
