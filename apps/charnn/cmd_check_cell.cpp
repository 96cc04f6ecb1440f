// charnn check-cell: runs the checks that prove a cell plugin right (charnn/cell_checks.hpp, the
// same code the test suite runs on every plugin) on one plugin, and prints a table. Exit 1 when
// any check fails, so a plugin's own build can run it.
#include <charnn/cell_checks.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

std::string sci(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

std::string padded(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// The plugin to check: --cell NAME, or the one cell the --plugin files hold.
std::string chosen_cell(const PluginRegistry& registry, const po::variables_map& vm) {
  if (vm.count("cell")) return registry.get(vm["cell"].as<std::string>())->name();
  std::vector<std::string> given;
  if (vm.count("plugin"))
    for (const auto& f : vm["plugin"].as<std::vector<std::string>>())
      for (const auto& p : registry.plugins()) {
        std::error_code ec;
        if (std::filesystem::equivalent(p->file(), f, ec)) given.push_back(p->name());
      }
  if (given.size() == 1) return given.front();
  if (given.empty() && vm.count("plugin")) {
    std::string why;
    for (const auto& s : registry.skipped()) why += "; " + s.file.string() + ": " + s.reason;
    throw charnn::error("no cell plugin loaded from --plugin" + why,
                        "check the path, and run 'charnn cells --verbose --plugin FILE'");
  }
  throw charnn::error(given.empty() ? "which cell? give --plugin FILE or --cell NAME"
                                    : "the --plugin files hold several cells",
                      "name one with --cell (charnn cells lists them)");
}

}  // namespace

int run_check_cell(const std::vector<std::string>& args) {
  const CommandHelp help{
      "check-cell", "charnn check-cell --plugin FILE [--cell NAME] [options]",
      "Checks a cell plugin the way the test suite checks the built-in cells: it creates layers\n"
      "and reads their tensors; runs forward on finite inputs; compares backward with finite\n"
      "differences for the parameters, the input and the initial state; checks that two\n"
      "segments with the state carried equal one long one, that step() and trace() equal\n"
      "forward, that backward adds into diff_params, that one thread and several give the\n"
      "same numbers, and that a one-layer model of the cell learns a tiny text. Prints one\n"
      "row per check (worst error, tolerance, result) and exits with 1 when any fails.",
      "charnn check-cell --plugin ./build/charnn-cell-mycell.so"};
  CellCheckOptions o;
  po::options_description options("Options");
  options.add_options()("cell", po::value<std::string>()->value_name("NAME"),
                        "the cell to check (default: the one the --plugin file holds)")(
      "input", po::value(&o.input)->default_value(o.input)->value_name("I"),
      "input width of the layers the numeric checks use")(
      "hidden", po::value(&o.hidden)->default_value(o.hidden)->value_name("H"),
      "hidden width of those layers")(
      "seq-len,T", po::value(&o.T)->default_value(o.T)->value_name("T"), "steps per check")(
      "batch,N", po::value(&o.N)->default_value(o.N)->value_name("N"), "streams per check")(
      "no-learning", "skip the learning check (the one that trains, about a second)");
  add_plugin_options(options);
  po::variables_map vm;
  if (!parse_options(help, options, {}, args, vm)) return 0;
  if (o.input < 1 || o.hidden < 1 || o.T < 1 || o.N < 1)
    throw charnn::error("--input, --hidden, --seq-len and --batch must be at least 1");
  o.learning = vm.count("no-learning") == 0;

  const PluginRegistry registry = load_plugins(vm);
  const std::string name = chosen_cell(registry, vm);
  const auto plugin = registry.get(name);
  std::cout << "check-cell: " << plugin->name() << " " << plugin->version() << "  "
            << plugin->file().string() << "\n  layers " << o.input << " -> " << o.hidden << ", T "
            << o.T << ", N " << o.N << "\n\n";
  const std::vector<CellCheck> rows = check_cell(registry, name, o);
  std::size_t width = 5;
  for (const auto& r : rows) width = std::max(width, r.name.size());
  std::cout << padded("check", width) << "  " << padded("worst", 9) << "  "
            << padded("tolerance", 9) << "  result\n";
  int failed = 0;
  for (const auto& r : rows) {
    std::cout << padded(r.name, width) << "  " << padded(sci(r.worst), 9) << "  "
              << padded(sci(r.tolerance), 9) << "  " << (r.passed ? "pass" : "FAIL") << "\n";
    if (!r.detail.empty()) std::cout << padded("", width) << "  " << r.detail << "\n";
    failed += r.passed ? 0 : 1;
  }
  std::cout << "\n"
            << (failed ? std::to_string(failed) + " of " + std::to_string(rows.size()) +
                             " checks failed"
                       : "all " + std::to_string(rows.size()) + " checks passed")
            << "\n";
  return failed ? 1 : 0;
}

}  // namespace charnn::app
