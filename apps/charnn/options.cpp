// Shared option parsing for the subcommands.
#include <iostream>
#include <string>
#include <string_view>

#include "command.hpp"

namespace charnn::app {

namespace {

// As wide as the summaries written with line breaks; the option table (boost's) is 80.
constexpr std::size_t kHelpWidth = 90;

// The summaries are written as paragraphs: wraps every line longer than `width` at its last
// space that fits (or its first space, for a longer word), so no terminal breaks one mid-word.
// Lines already shorter stay as written.
std::string wrap_lines(std::string_view text, std::size_t width) {
  std::string out;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    while (line.size() > width) {
      std::size_t cut = line.rfind(' ', width);
      if (cut == std::string_view::npos || cut == 0) cut = line.find(' ', width);
      if (cut == std::string_view::npos) break;
      out.append(line.substr(0, cut)).push_back('\n');
      line.remove_prefix(cut + 1);
    }
    out.append(line);
    if (eol != std::string_view::npos) out.push_back('\n');
  }
  return out;
}

}  // namespace

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
    std::cout << "Usage: " << help.usage << "\n\n"
              << wrap_lines(help.summary, kHelpWidth) << "\n\n"
              << shown << "\n";
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
