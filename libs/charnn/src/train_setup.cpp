// Everything before the first training step: the resumed config, the corpus, the model and
// optimiser, the restored state, the run directory, metrics.csv, config.json and the banner.
#include "trainer_impl.hpp"

#include "cpu_load.hpp"
#include "train_banner.hpp"

#include <charnn/checksum.hpp>
#include <charnn/error.hpp>
#include <charnn/memory_estimate.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <iostream>

namespace charnn::detail {

namespace fs = std::filesystem;

namespace {

bool resumable(const std::string& key) {
  for (const auto& o : train_options())
    if (o.key && key == o.key && o.resumable) return true;
  return false;
}

Progress::Mode progress_mode(TrainConfig::ProgressMode mode, std::ostream& log) {
  switch (mode) {
    case TrainConfig::ProgressMode::automatic:
      return Progress::is_terminal(log) ? Progress::Mode::live : Progress::Mode::plain;
    case TrainConfig::ProgressMode::live:
      return Progress::Mode::live;
    case TrainConfig::ProgressMode::plain:
      return Progress::Mode::plain;
    case TrainConfig::ProgressMode::quiet:
      return Progress::Mode::quiet;
    case TrainConfig::ProgressMode::json:
      return Progress::Mode::json;
  }
  return Progress::Mode::plain;
}

}  // namespace

Trainer::Trainer(const TrainConfig& given, const PluginRegistry& plugins, const TrainHooks& hooks,
                 const TrainFaults& faults)
    : plugins_(plugins), hooks_(hooks), faults_(faults), log_(hooks.log ? *hooks.log : std::cerr) {
  config_ = given;
  // With several ranks, each takes its share of this machine's CPUs (oneDNN's threads would
  // otherwise fight over them), and only the root reads the run: the others get it from the
  // root (share_start).
  set_threads(ranks_.size() > 1 && given.threads <= 0
                  ? std::max(1, usable_cpus() / ranks_.local_size())
                  : given.threads);
  if (!ranks_.root()) return;
  if (!given.resume.empty())
    load_resume(given);
  else if (given.more > 0)
    throw error(option_name("more") + " extends a finished run",
                "give it with " + option_name("resume") + " RUN", 2);
  validate(config_);
  // --time not given: 15 minutes, unless another stop condition is; --time 0 means none.
  if (config_.time_limit == kDefaultTime)
    config_.time_limit = config_.epochs == 0 && config_.max_iters == 0 ? kDefaultTimeLimit : 0;
}

void Trainer::load_resume(const TrainConfig& given) {
  const ResumePoint point = find_resume_point(given.resume);
  // Locked before the checkpoint is read: a second resume of the run must not continue from a
  // checkpoint the first one is about to replace.
  lock_ = RunLock(point.run_dir);
  resume_data_ = read_checkpoint(point.checkpoint);
  std::map<std::string, std::string> keys;
  for (const auto& [k, v] : resume_data_.header)
    if (k.rfind("config.", 0) == 0) keys[k.substr(7)] = v;
  const auto now = config_to_keys(given);
  for (const auto& key : given.resume_overrides) {
    const auto stored = keys.find(key);
    // Repeating the run's own value changes nothing, so it is not an error.
    if (stored != keys.end() && stored->second == now.at(key)) continue;
    if (!resumable(key))
      throw error(option_name(key) + " cannot change when resuming: it is " +
                      (stored == keys.end() ? std::string("not set") : stored->second) + " in " +
                      point.checkpoint.string() + ", and " + now.at(key) + " was given",
                  "resume without it, or start a new run", 2);
    keys[key] = now.at(key);
  }
  config_ = config_from_keys(keys, point.checkpoint);
  config_.threads = given.threads;
  config_.progress = given.progress;
  config_.resume = given.resume;
  run_dir_ = point.run_dir;
  resuming_ = true;
  if (given.more > 0) extend(given);
}

// --more: the budget becomes the time trained so far plus `more`, and the schedule stays where
// it ended (progress_fraction), so the rate does not climb back up as a longer --time would.
void Trainer::extend(const TrainConfig& given) {
  const std::string more = option_name("more");
  for (const char* key : {"time_limit", "max_iters", "epochs"})
    if (std::find(given.resume_overrides.begin(), given.resume_overrides.end(), key) !=
        given.resume_overrides.end())
      throw error(more + " sets the new budget itself", "give it without " + option_name(key), 2);
  const TrainState done = TrainState::load(resume_data_);
  const bool has_stop =
      config_.time_limit > 0 || config_.max_iters > 0 || config_.epochs > 0 || config_.patience > 0;
  // The run's own record decides: a time stop comes a little before the limit (it leaves room for
  // the last validation), so the saved time alone can read unfinished. stop_reached serves
  // checkpoints written before state.finished.
  if (has_stop && !done.finished && stop_reached(config_, done, done.elapsed).empty())
    throw error(resume_data_.file.string() + " is from a run that has not finished (" +
                    format_duration(done.elapsed) + " trained" +
                    (config_.time_limit > 0 ? " of " + format_duration(config_.time_limit)
                                            : std::string()) +
                    ", iteration " + thousands(done.iteration) + ")",
                "resume without " + more + " to finish it first, then give it " + more, 2);
  config_.time_limit = done.elapsed + given.more;
  config_.max_iters = 0;
  config_.epochs = 0;
  extending_ = true;
}

void Trainer::prepare_data() {
  std::string text = read_text(config_.corpus, config_.text);
  if (resuming_) {
    vocab_ = resume_data_.vocab;
  } else {
    UnitCounter counter(config_.text.units);
    counter.add_text(text);
    vocab_ = Vocab::build(counter, config_.text, config_.vocab);
  }
  ids_ = vocab_.encode(text);
  split_ = split_corpus(ids_, config_.split);
  fingerprint_ = fnv1a64(split_.train.data(), split_.train.size_bytes());
  if (resuming_ && resume_data_.get_string("corpus.fingerprint") != hex64(fingerprint_))
    throw error("the corpus differs from the one " + resume_data_.file.string() +
                    " was trained on (" + std::to_string(split_.train.size()) +
                    " training units now, " + resume_data_.get_string("corpus.train_units") +
                    " then)",
                "resume with the same corpus files (pass them again if they moved)");
}

// Before the first large allocation (the plan's speed probe builds the model): a model and batch
// that cannot fit are refused with both figures, not left to fail inside an allocation.
void Trainer::check_memory() const {
  if (resuming_ || !config_.check_memory) return;
  const auto available = available_memory_bytes();
  if (!available) return;
  ModelConfig mc;
  mc.cells = config_.cells;
  mc.hidden = config_.hidden == kAuto ? plan_widths().front() : config_.hidden;
  mc.vocab_size = vocab_.size();
  const std::int64_t parameters = Model::param_count(mc, plugins_);
  const double need = training_bytes({.parameters = parameters,
                                      .layers = static_cast<std::int64_t>(mc.cells.size()),
                                      .hidden = mc.hidden,
                                      .vocab = mc.vocab_size,
                                      .seq_len = config_.seq_len,
                                      .batch = config_.batch});
  if (need <= *available) return;
  throw error(
      "a model of " + std::to_string(mc.cells.size()) + " x " + thousands(mc.hidden) + " (" +
          thousands(parameters) + " parameters) with " + std::to_string(config_.batch) + " x " +
          std::to_string(config_.seq_len) + " batches needs about " + bytes_text(need) +
          " of memory to train, and this machine has " + bytes_text(*available) + " available",
      "lower " + option_name("hidden") + " (or " + option_name("batch") + ", " +
          option_name("seq_len") + "), or pass --no-memory-check to try anyway");
}

// The settings left on auto, chosen from the corpus, the budget and this machine's speed
// (train_plan.hpp). A time budget needs the speed: each width the plan considers trains one
// segment to create its primitives, then one timed, and validates twice, the second timed.
void Trainer::plan_settings() {
  PlanInput in{.train_units = static_cast<std::int64_t>(split_.train.size()),
               .valid_units = static_cast<std::int64_t>(split_.valid.size()),
               .units_per_iteration = config_.batch * config_.seq_len,
               .vocab_size = static_cast<std::int64_t>(vocab_.size()),
               .max_iters = config_.max_iters,
               .epochs = config_.epochs,
               .time_limit = config_.time_limit,
               .max_exposure =
                   resuming_ || config_.max_exposure == kAutoMaxExposure ? 0 : config_.max_exposure,
               .choose_hidden = config_.hidden == kAuto,
               .choose_dropout = config_.dropout == kAutoDropout,
               .choose_lr = config_.schedule.lr == kAutoLr,
               .choose_weight_drop = config_.weight_drop == kAutoWeightDrop,
               .choose_eval_every = config_.eval_every == kAuto,
               .choose_eval_units = config_.eval_units == kAuto,
               // On resume the first plan's max_iters holds the limit.
               .choose_max_exposure = !resuming_ && config_.max_exposure == kAutoMaxExposure,
               .models_scored = config_.ema > 0 ? 2 : 1,
               .hidden = config_.hidden == kAuto ? plan_widths().front() : config_.hidden,
               .dropout = config_.dropout,
               .weight_drop = config_.weight_drop,
               .decays_weights = config_.optimizer.weight_decay > 0 &&
                                 config_.optimizer.weight_decay_mode == WeightDecayMode::decoupled,
               .lr = config_.schedule.lr};
  // The warm-up needs no measurement: the vocabulary decides it (planned_warmup).
  std::string warmup_why;
  if (config_.schedule.warmup == kAuto) {
    config_.schedule.warmup = planned_warmup(vocab_.size());
    warmup_why = "warmup " + std::to_string(config_.schedule.warmup) + " (" +
                 thousands(vocab_.size()) + "-unit vocabulary)";
    if (!resuming_) config_.plan = warmup_why;
  }
  for (const std::string& cell : config_.cells) {
    const double limit = plugins_.get(cell)->api().max_learning_rate;
    if (limit > 0 && (in.max_lr == 0 || limit < in.max_lr)) {
      in.max_lr = limit;
      in.max_lr_cell = cell;
    }
    // Its tensors' names, not their sizes: a layer of 1.
    if (!names_recurrent_weights(plugins_.create_cell(cell, 1, 1))) in.cells_drop_weights = false;
    const double start = plugins_.get(cell)->api().dropout_exposure;
    if (start > 0 && (in.dropout_exposure == 0 || start < in.dropout_exposure)) {
      in.dropout_exposure = start;
      in.dropout_exposure_cell = cell;
    }
  }
  if (!(in.choose_hidden || in.choose_dropout || in.choose_weight_drop || in.choose_lr ||
        in.choose_eval_every || in.choose_eval_units || in.choose_max_exposure ||
        in.max_exposure > 0))
    return;
  if (resuming_) {  // only --lr and --eval-* may be auto on resume: plan what is left
    const TrainState done = TrainState::load(resume_data_);
    in.time_limit = std::max(0.0, config_.time_limit - done.elapsed);
    if (in.max_iters > 0) in.max_iters = std::max<std::int64_t>(1, in.max_iters - done.iteration);
  }
  const bool timed = in.time_limit > 0;
  TrainPlan plan =
      plan_training(in, [&](std::int64_t hidden) { return measure_width(hidden, timed); });
  if (in.choose_hidden) config_.hidden = plan.hidden;
  if (in.choose_dropout) config_.dropout = plan.dropout;
  if (in.choose_weight_drop) config_.weight_drop = plan.weight_drop;
  if (in.choose_lr) config_.schedule.lr = plan.lr;
  if (in.choose_eval_every) config_.eval_every = plan.eval_every;
  if (in.choose_eval_units) config_.eval_units = plan.eval_units;
  if (in.choose_max_exposure) config_.max_exposure = plan.max_exposure;
  if (plan.max_iters > 0) config_.max_iters = plan.max_iters;
  if (in.choose_lr && !resuming_) check_learning_rate(plan);
  if (!resuming_) config_.plan = plan.why + (warmup_why.empty() ? "" : ", " + warmup_why);
}

void Trainer::build_model() {
  const std::int64_t N = config_.batch, T = config_.seq_len;
  if (resuming_) {
    model_ = model_from_checkpoint(resume_data_, plugins_);
    // PARM may be the weight average; training continues from the trained weights.
    if (!resume_data_.live.empty())
      std::copy(resume_data_.live.begin(), resume_data_.live.end(), model_->params().begin());
  } else {
    ModelConfig mc;
    mc.cells = config_.cells;
    mc.hidden = config_.hidden;
    mc.vocab_size = vocab_.size();
    mc.dropout = config_.dropout;
    mc.dropout_mask = config_.dropout_mask;
    mc.weight_drop = static_cast<float>(config_.weight_drop);
    model_ = std::make_unique<Model>(mc, plugins_);
    model_->init_params(config_.seed);
  }
  if (config_.ema > 0)
    average_ = std::make_unique<WeightAverage>(config_.ema,
                                               resuming_ && !resume_data_.average.empty()
                                                   ? std::span<const float>(resume_data_.average)
                                                   : std::span<const float>(model_->params()));
  precision_ = model_->set_train_precision(config_.precision);
  optimizer_ = std::make_unique<Optimizer>(config_.optimizer,
                                           static_cast<std::int64_t>(model_->params().size()));
  batches_ = std::make_unique<Batches>(split_.train, N, T, config_.seed);
  carried_ = model_->zero_state(N);
  inputs_.assign(static_cast<std::size_t>(T * N), 0);
  targets_.assign(static_cast<std::size_t>(T * N), 0);
}

void Trainer::restore_from_checkpoint() {
  const CheckpointData& d = resume_data_;
  if (d.optimizer.size() != optimizer_->state().size())
    throw error(d.file.string() + ": holds no optimiser state for " +
                    to_string(config_.optimizer.kind) + " (" + std::to_string(d.optimizer.size()) +
                    " floats)",
                "resume from a checkpoint written by 'charnn train'");
  std::copy(d.optimizer.begin(), d.optimizer.end(), optimizer_->state().begin());
  state_ = TrainState::load(d);
  if (extending_) {  // patience counts afresh; a second --more keeps where the schedule ended
    state_.evals_since_best = 0;
    state_.ended_on_best = 0;
    if (state_.extended_from == 0) state_.extended_from = state_.elapsed;
  }
  optimizer_->set_steps(state_.optimizer_steps);
  std::size_t want = 0;
  for (const auto& l : carried_.layers) want += l.size();
  if (d.state.size() != want || state_.streams != config_.batch)
    throw error(d.file.string() + ": the saved recurrent state does not match " +
                option_name("batch") + " " + std::to_string(config_.batch));
  std::size_t at = 0;
  for (auto& l : carried_.layers) {
    std::copy_n(d.state.begin() + static_cast<std::ptrdiff_t>(at), l.size(), l.begin());
    at += l.size();
  }
  if (state_.position.segment < 0 || state_.position.segment >= batches_->segments_per_epoch())
    throw error(d.file.string() + ": the saved data position is outside the corpus");
  resume_data_ = CheckpointData{};  // free the copy of the parameters
}

// Everything before the first step: data, model, run directory, metrics.csv, config.json and
// the banner.
void Trainer::start() {
  progress_ = std::make_unique<Progress>(
      log_, ranks_.root() ? progress_mode(config_.progress, log_) : Progress::Mode::quiet);
  if (ranks_.size() > 1 && config_.batch < ranks_.size())
    throw error(std::to_string(ranks_.size()) + " ranks need at least as many streams, and " +
                    option_name("batch") + " is " + std::to_string(config_.batch),
                "give " + option_name("batch") + " " + std::to_string(ranks_.size()) +
                    " or more, or start fewer ranks",
                2);
  if (ranks_.root()) {
    prepare_data();
    check_memory();
    plan_settings();
    build_model();
    open_run();
  }
  governor_ = std::make_unique<ThreadGovernor>(config_.threads <= 0 && ranks_.size() == 1);
  start_ = std::chrono::steady_clock::now();
  if (!resuming_) {  // the learning-rate check's seconds count against --time
    state_.check_seconds += faults_.check_seconds;
    state_.elapsed = state_.check_seconds;
  }
  share_start();
  rescore_old_best();
  start_spike_guard();
  window_ = Window{};
  session_start_iteration_ = state_.iteration;
}

// The root's run directory (new, or the resumed one), metrics.csv, config.json and banner.
void Trainer::open_run() {
  // Only now that the corpus, model and batch shape are known to work: an error above leaves
  // no empty run directory behind (and runs/latest keeps pointing at a usable run).
  StaleFiles stale;
  if (resuming_) {
    stale = remove_stale_temporaries(run_dir_);
    restore_from_checkpoint();
    metrics_ = std::make_unique<MetricsLog>(run_dir_, resuming_, state_.iteration);
  } else {
    NewRun run = create_run_dir(config_);
    run_dir_ = run.dir;
    try {
      stale = remove_stale_temporaries(run_dir_);
      metrics_ = std::make_unique<MetricsLog>(run_dir_, resuming_, state_.iteration);
      write_text_file(run_dir_ / "config.json", config_to_json(config_));
      publish_run(run);
    } catch (...) {
      metrics_.reset();
      abandon_run(run);
      throw;
    }
    lock_ = std::move(run.lock);
  }

  BannerFacts facts{.resuming = resuming_,
                    .run_dir = run_dir_.string(),
                    .iteration = state_.iteration,
                    .corpus_units = static_cast<std::int64_t>(ids_.size()),
                    .vocab_size = static_cast<std::int64_t>(vocab_.size()),
                    .train_units = static_cast<std::int64_t>(split_.train.size()),
                    .valid_units = static_cast<std::int64_t>(split_.valid.size()),
                    .parameters = static_cast<std::int64_t>(model_->params().size()),
                    .iterations_per_epoch = batches_->segments_per_epoch(),
                    .precision = precision_,
                    .threads = get_threads(),
                    .ranks = ranks_.size()};
  progress_->message(training_banner(config_, facts));
  // An explicit bf16 the cells could not take is said, not only shown as "f32" in the banner.
  if (config_.precision == StepPrecision::bf16 && precision_ != "bf16")
    progress_->message("  " + option_name("precision") + " bf16: " +
                       (precision_ == "f32" ? std::string("no cell layer took it")
                                            : "only part of the model took it") +
                       " (bfloat16 products need " + std::string(native_isa(StepPrecision::bf16)) +
                       ", or a plugin that offers them); training in " + precision_);
  if (state_.extended_from > 0)
    progress_->message("  past its schedule since " + format_duration(state_.extended_from) + " (" +
                       option_name("more") + "): the rate stays at " + short_num(scheduled_lr()) +
                       ", where the schedule ended, until " + format_duration(config_.time_limit));
  if (stale.count > 0)
    progress_->message("  removed " + std::to_string(stale.count) +
                       " temporary file(s) of an interrupted run (" +
                       thousands(static_cast<std::int64_t>(stale.bytes)) + " bytes)");
  if (!can_validate())
    progress_->message("  no validation split (" + option_name("split") +
                       " gives it 0 units): best.ckpt is not written, last.ckpt is the model");
}
}  // namespace charnn::detail
