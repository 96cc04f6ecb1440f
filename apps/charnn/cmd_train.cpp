// charnn train: builds its options from the library's table of training settings
// (charnn::train_options()), fills a TrainConfig and calls charnn::train. Ctrl-C and SIGTERM
// make the library finish its step and checkpoint; the exit code is then 130 / 143.
#include <charnn/error.hpp>
#include <charnn/trainer.hpp>

#include <charconv>
#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

// The option's name in the variables map: "seq-len" for "seq-len,T".
std::string long_name(const TrainOption& o) {
  const std::string flag = o.flag;
  return flag.substr(0, flag.find(','));
}

// --help shows a real default ("0.02", not Boost's "0.02000000000000000004"): the table's text.
std::string shown_default(const TrainOption& o, const TrainConfig& defaults) {
  if (o.shown) return o.shown(defaults);
  return o.get ? o.get(defaults) : std::string();
}

// A Boost value for one row: typed for numbers, so bad numbers get the parser's usual message.
po::value_semantic* semantic(const TrainOption& o, const TrainConfig& defaults) {
  const std::string shown = shown_default(o, defaults);
  switch (o.kind) {
    case TrainValueKind::integer: {
      auto* v = po::value<long long>();
      if (!shown.empty()) v->default_value(std::stoll(shown), shown);
      return v;
    }
    case TrainValueKind::real: {
      auto* v = po::value<double>();
      if (!shown.empty()) v->default_value(std::stod(shown), shown);
      return v;
    }
    case TrainValueKind::switch_:
      return po::bool_switch();
    case TrainValueKind::text:
      break;
  }
  if (o.group == TrainOptionGroup::positional) return po::value<std::vector<std::string>>();
  auto* v = po::value<std::string>();
  if (!shown.empty()) v->default_value(shown);
  if (o.value_name) v->value_name(o.value_name);
  return v;
}

// The values given for a row, as the text the table reads (a file list gives several).
std::vector<std::string> given_texts(const TrainOption& o, const po::variable_value& v) {
  switch (o.kind) {
    case TrainValueKind::integer:
      return {std::to_string(v.as<long long>())};
    case TrainValueKind::real: {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.as<double>());
      return {std::string(buf, r.ptr)};
    }
    case TrainValueKind::switch_:
      return {"1"};
    case TrainValueKind::text:
      break;
  }
  if (o.group == TrainOptionGroup::positional) return v.as<std::vector<std::string>>();
  return {v.as<std::string>()};
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  const TrainConfig defaults;  // library defaults, shown by --help
  po::options_description model("Model"), opt("Optimisation"),
      stop("Stopping, validation and output"), text("Text (as in 'charnn vocab')"), hidden;
  const std::map<TrainOptionGroup, po::options_description*> groups = {
      {TrainOptionGroup::model, &model},
      {TrainOptionGroup::optimisation, &opt},
      {TrainOptionGroup::stopping, &stop},
      {TrainOptionGroup::text, &text},
      {TrainOptionGroup::positional, &hidden}};
  for (const auto& o : train_options())
    if (o.flag) groups.at(o.group)->add_options()(o.flag, semantic(o, defaults), o.help);
  po::options_description desc;
  desc.add(model).add(opt).add(stop).add(text);
  add_plugin_options(desc);
  po::positional_options_description pos;
  pos.add("file", -1);

  const CommandHelp help{
      "train", "charnn train [options] CORPUS...",
      "Trains a character-level model on the text files (concatenated; cleaned as 'charnn vocab' "
      "shows) and writes a run directory with best.ckpt, last.ckpt, metrics.csv and config.json. "
      "The defaults (a 2x512 LSTM, 32 streams x 64 steps, Adam 2e-2 after 100 warm-up "
      "iterations with a cosine decay over the budget, clip 5, bf16 mixed precision where the "
      "CPU has it, 15 minutes) are chosen for a 2-core CPU; see docs/training.md. "
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

  // Only what the user typed is applied, in table order; the rest keeps the library default
  // (the time budget's default is applied by the library, when no other stop is set).
  TrainConfig c;
  for (const auto& o : train_options()) {
    if (!o.flag || !given(long_name(o))) continue;
    for (const auto& value : given_texts(o, vm[long_name(o)]))
      (o.set_from_cli ? o.set_from_cli : o.set)(c, value);
    // On --resume, typed options become overrides of the checkpoint's config; the library
    // refuses the ones that would change the run itself.
    if (given("resume") && o.key) c.resume_overrides.emplace_back(o.key);
  }

  const PluginRegistry plugins = load_plugins(vm);
  install_stop_signals();
  TrainHooks hooks;
  hooks.watch_signals = true;
  const TrainResult r = train(c, plugins, hooks);
  if (r.signal != 0) return 128 + r.signal;
  return 0;
}

}  // namespace charnn::app
