// What every subcommand shares: its entry point signature and one way to parse options, so
// that --help, errors and exit codes look the same everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <charnn/plugin_registry.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace charnn::app {

namespace po = boost::program_options;

// args excludes the program and command names. Returns the process exit code.
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string_view name;
  std::string_view summary;
  CommandFn run;
};

struct CommandHelp {
  std::string_view name;     // "vocab"
  std::string_view usage;    // "charnn vocab [options] FILE..."
  std::string_view summary;  // one paragraph on what it does
  std::string_view example;  // one example command line
};

// Parses args into vm. When --help is given, prints usage, summary, options with their defaults
// and the example to stdout and returns false: the command then returns 0.
// Unknown options and bad values throw po::error, which main reports with exit code 2.
bool parse_options(const CommandHelp& help, const po::options_description& options,
                   const po::positional_options_description& positional,
                   const std::vector<std::string>& args, po::variables_map& vm);
// The same with options that --help does not list, such as the target of FILE... arguments.
bool parse_options(const CommandHelp& help, const po::options_description& options,
                   const po::options_description& hidden,
                   const po::positional_options_description& positional,
                   const std::vector<std::string>& args, po::variables_map& vm);

// FILE... arguments: every positional argument lands in files (hidden: --help shows them in
// the usage line instead).
void add_file_arguments(po::options_description& hidden, po::positional_options_description& pos,
                        std::vector<std::string>& files);

// Adds --plugin FILE (repeatable) to a command's options (plugins_option.cpp).
void add_plugin_options(po::options_description& options);
// Discovers plugins honouring --plugin, CHARNN_PLUGIN_PATH and the built-in directory.
charnn::PluginRegistry load_plugins(const po::variables_map& vm);

// Subcommands, one per file (cmd_<name>.cpp).
int run_vocab(const std::vector<std::string>& args);
int run_cells(const std::vector<std::string>& args);
int run_check_cell(const std::vector<std::string>& args);
int run_sample(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_dump(const std::vector<std::string>& args);
int run_inspect(const std::vector<std::string>& args);
int run_runs(const std::vector<std::string>& args);
int run_completion(const std::vector<std::string>& args);

// The subcommands' names, in the order --help lists them (main.cpp).
std::vector<std::string> command_names();

}  // namespace charnn::app
