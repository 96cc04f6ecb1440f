// charnn train: builds its options from the library's table of training settings
// (charnn::train_options()), fills a TrainConfig and calls charnn::train. Ctrl-C and SIGTERM
// make the library finish its step and checkpoint; the exit code is then 130 / 143.
#include <charnn/error.hpp>
#include <charnn/ranks.hpp>
#include <charnn/trainer.hpp>

#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "command.hpp"
#include "launch_ranks.hpp"
#include "table_options.hpp"

namespace charnn::app {

// train's random seed was --seed, which sample uses for the text to continue: the old name
// still works, with a note.
std::vector<std::string> renamed_options(std::vector<std::string> args) {
  for (auto& a : args)
    if (a == "--seed" || a.rfind("--seed=", 0) == 0) {
      a.replace(0, 6, "--random-seed");
      std::cerr << "charnn train: --seed is now --random-seed (sample's --seed is the text to "
                   "continue); the old name will go\n";
    }
  return args;
}

int run_train(const std::vector<std::string>& given_args) {
  const std::vector<std::string> args = renamed_options(given_args);
  const TrainConfig defaults;  // library defaults, shown by --help
  po::options_description model("Model"), opt("Optimisation"),
      stop("Stopping, validation and output"), text("Text (as in 'charnn vocab')"), hidden;
  const std::map<TrainOptionGroup, po::options_description*> groups = {
      {TrainOptionGroup::model, &model},
      {TrainOptionGroup::optimisation, &opt},
      {TrainOptionGroup::stopping, &stop},
      {TrainOptionGroup::text, &text},
      {TrainOptionGroup::positional, &hidden}};
  for (const auto& [group, options] : groups) add_table_options(*options, group, defaults);
  po::options_description ranks("Ranks (several processes, one model: docs/multi-machine.md)");
  ranks.add_options()(
      "ranks", po::value<int>()->default_value(1)->value_name("K"),
      "processes to train with on this machine, started through mpirun (on several machines, "
      "run mpirun yourself: mpirun -np K --hostfile FILE charnn train ...); the banner says "
      "'K ranks x T threads, global batch N'");
  po::options_description desc;
  desc.add(model).add(opt).add(stop).add(text).add(ranks);
  add_plugin_options(desc);
  po::positional_options_description pos;
  pos.add("file", -1);

  const CommandHelp help{
      "train", "charnn train [options] CORPUS...",
      "Trains a character-level model on the text files (concatenated; cleaned as 'charnn vocab' "
      "shows) and writes a run directory with best.ckpt, last.ckpt, metrics.csv and config.json. "
      "The defaults (a 2-layer GRU, 32 streams x 64 steps, Adam after 100 warm-up "
      "iterations with a cosine decay over the budget, clip 5, bf16 mixed precision where the "
      "CPU has it, 15 minutes) are chosen for a 2-core CPU; the width, dropout, learning rate "
      "and validation cadence are planned per run from the corpus, the budget and the speed "
      "measured at the start, and the banner's plan line says what it chose and why (explicit "
      "flags win); see docs/training.md. "
      "Validation loss is printed in nats and bits per unit. Ctrl-C or SIGTERM saves last.ckpt "
      "and prints how to resume (exit 130 / 143).",
      "charnn train corpora/fortunes.txt --time 4m"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;

  auto given = [&](const std::string& name) { return vm.count(name) && !vm[name].defaulted(); };
  if (!given("file") && !given("resume"))
    throw error("no corpus file given", "usage: charnn train [options] CORPUS...", 2);
  if (given("resume") && given("out"))
    throw error("--out cannot be combined with --resume (the run stays in its directory)", {}, 2);
  if (const int k = vm["ranks"].as<int>(); k < 1)
    throw error("--ranks must be at least 1 (got " + std::to_string(k) + ")", {}, 2);
  else if (k > 1)
    return launch_ranks(k, args);

  // Only what the user typed is applied, group by group in table order; the rest keeps the
  // library default (the time budget's default is applied by the library, when no other stop is
  // set). On --resume, typed options become overrides of the checkpoint's config; the library
  // refuses the ones that would change the run itself.
  TrainConfig c;
  for (const auto& [group, options] : groups) {
    auto keys = apply_table_options(vm, group, c);
    if (given("resume"))
      c.resume_overrides.insert(c.resume_overrides.end(), keys.begin(), keys.end());
  }

  const PluginRegistry plugins = load_plugins(vm);
  // Under mpirun: joins the job (main ends it on every rank if this one fails). Before the
  // signal handlers, so that MPI's start-up cannot replace them.
  Ranks& job = Ranks::world();
  install_stop_signals();
  TrainHooks hooks;
  hooks.watch_signals = true;
  const TrainResult r = train(c, plugins, hooks);
  job.finish();
  if (r.signal != 0) return 128 + r.signal;
  return 0;
}

}  // namespace charnn::app
