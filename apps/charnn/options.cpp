// Shared option parsing for the subcommands.
#include <iostream>

#include "command.hpp"

namespace charnn::app {

bool parse_options(const CommandHelp& help, const po::options_description& options,
                   const po::positional_options_description& positional,
                   const std::vector<std::string>& args, po::variables_map& vm) {
  return parse_options(help, options, po::options_description(), positional, args, vm);
}

bool parse_options(const CommandHelp& help, const po::options_description& options,
                   const po::options_description& hidden,
                   const po::positional_options_description& positional,
                   const std::vector<std::string>& args, po::variables_map& vm) {
  po::options_description shown(options);
  shown.add_options()("help,h", "show this help and exit");
  po::options_description all;
  all.add(shown).add(hidden);
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << "Usage: " << help.usage << "\n\n" << help.summary << "\n\n" << shown << "\n";
    if (!help.example.empty()) std::cout << "Example:\n  " << help.example << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

void add_file_arguments(po::options_description& hidden, po::positional_options_description& pos,
                        std::vector<std::string>& files) {
  hidden.add_options()("file", po::value(&files), "input files");
  pos.add("file", -1);
}

}  // namespace charnn::app
