// charnn: git-style subcommands. This file only dispatches and turns errors into messages and
// exit codes (0 ok, 1 failure or bad input, 2 bad command line); the work lives in libs/charnn.
#include <charnn/error.hpp>
#include <charnn/ranks.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "charnn_commit.h"  // generated at each build: CHARNN_COMMIT
#include "command.hpp"
#include "stdout_sink.hpp"

namespace {

using charnn::app::Command;

// One line per subcommand, in the order --help lists them.
const std::vector<Command> kCommands = {
    {"cells", "list the cell plugins found and their tensor shapes", &charnn::app::run_cells},
    {"check-cell", "check a cell plugin: gradients, state, step, trace, learning",
     &charnn::app::run_check_cell},
    {"vocab", "build and show the vocabulary of a corpus", charnn::app::run_vocab},
    {"train", "train a model on a corpus (checkpoints, resume, metrics)", &charnn::app::run_train},
    {"sample", "continue a seed text with a trained model", &charnn::app::run_sample},
    {"eval", "score text with a model: nats, bits per unit, perplexity", &charnn::app::run_eval},
    {"dump", "write neuron activations over a text (npy/csv/jsonl)", &charnn::app::run_dump},
    {"inspect", "find units that track quotes, line length...; HTML", &charnn::app::run_inspect},
    {"runs", "list the training runs under runs/: model, progress, best validation",
     &charnn::app::run_runs},
    {"completion", "print a bash completion script (source <(charnn completion bash))",
     &charnn::app::run_completion},
};

}  // namespace

std::vector<std::string> charnn::app::command_names() {
  std::vector<std::string> names;
  for (const auto& c : kCommands) names.emplace_back(c.name);
  return names;
}

namespace {

void print_usage(std::ostream& out) {
  out << "Usage: charnn <command> [options]\n\n"
         "Character-level text generation with recurrent networks.\n\nCommands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(12 - std::min<std::size_t>(11, c.name.size()), ' ')
        << c.summary << "\n";
  }
  out << "\nRun 'charnn <command> --help' for a command's options and an example.\n"
         "Options: --help, --version\n";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// Output buffered for stdout may fail only when flushed at exit (a full disk, /dev/full): that
// must not pass as success. A closed pipe never gets here: SIGPIPE ends the process quietly,
// and `sample`, which catches it, returns before writing more.
int checked_stdout_exit(const std::string& name, int code, const charnn::app::StdoutSink* sink) {
  errno = 0;
  std::cout.flush();
  int e = sink ? sink->error() : 0;
  if (!sink && (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout))
    e = errno ? errno : EIO;
  if (e == 0) return code;
  std::cerr << "charnn " << name << ": error: cannot write to standard output: " << std::strerror(e)
            << "\n"
            << "  hint: the output is incomplete; free space where it goes, or redirect it\n";
  return code == 0 ? 1 : code;
}

// Runs the command and turns its errors into messages and exit codes. Under mpirun a rank other
// than the root names itself, since every rank may say the same.
int run_reporting_errors(const Command& command, const std::vector<std::string>& args,
                         const charnn::app::StdoutSink* sink) {
  const std::string name(command.name);
  const auto who = [&] {
    const charnn::Ranks* job = charnn::Ranks::job();
    return "charnn " + name +
           (job && !job->root() ? " (rank " + std::to_string(job->rank()) + ")" : std::string());
  };
  try {
    return checked_stdout_exit(name, command.run(args), sink);
  } catch (const charnn::app::po::error& e) {
    std::cerr << who() << ": " << e.what() << "\n"
              << "Run 'charnn " << name << " --help' for the options.\n";
    return 2;
  } catch (const charnn::error& e) {
    std::cerr << who() << ": error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "  hint: " << e.hint() << "\n";
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::cerr << who() << ": error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << who() << ": internal error: " << e.what() << "\n"
              << "  hint: this is a bug in charnn; please report it with the command line.\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // "charnn help train" is "charnn train --help".
  if (args.size() == 2 && args[0] == "help") args = {args[1], "--help"};
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "charnn " << CHARNN_VERSION << " (commit " << CHARNN_COMMIT << ")\n";
    return 0;
  }
  const std::string name = args[0];
  auto it = std::find_if(kCommands.begin(), kCommands.end(),
                         [&](const Command& c) { return c.name == name; });
  if (it == kCommands.end()) {
    std::cerr << "charnn: unknown command '" << name << "'.";
    auto best = std::min_element(kCommands.begin(), kCommands.end(), [&](auto& a, auto& b) {
      return edit_distance(name, a.name) < edit_distance(name, b.name);
    });
    if (best != kCommands.end() && edit_distance(name, best->name) <= 2)
      std::cerr << " Did you mean '" << best->name << "'?";
    std::cerr << " Run 'charnn --help' for the list of commands.\n";
    return 2;
  }
  args.erase(args.begin());
  // Past a file size limit (ulimit -f) a write then fails with EFBIG and is reported like a
  // full disk, instead of the process dying without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  std::streambuf* const original = std::cout.rdbuf();
  std::optional<charnn::app::StdoutSink> sink;
  if (::isatty(STDOUT_FILENO) != 1) {
    sink.emplace();
    std::cout.rdbuf(&*sink);
  }
  // std::cout outlives main: it must not keep pointing at the sink once that is gone.
  struct RestoreCout {
    std::streambuf* old;
    ~RestoreCout() {
      std::cout.flush();
      std::cout.rdbuf(old);
    }
  } restore{original};
  const int code = run_reporting_errors(*it, args, sink ? &*sink : nullptr);
  // A rank that failed alone would leave the others waiting for it: end them all.
  if (charnn::Ranks* job = charnn::Ranks::job(); job && code != 0 && code != 130 && code != 143)
    job->abort(code);
  return code;
}
