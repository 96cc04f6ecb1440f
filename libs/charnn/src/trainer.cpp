// The training loop: next batch, forward, backward, clip, update, then log, validate and
// checkpoint; stop on a budget, early stopping, a signal or divergence. The run directory and
// metrics.csv (run_dir.hpp), the resumable state (train_state.hpp), the banner
// (train_banner.hpp) and the option table (train_config.hpp) live in their own units.
#include "charnn/trainer.hpp"
#include "charnn/detail/train_faults.hpp"

#include "run_dir.hpp"
#include "train_banner.hpp"
#include "train_state.hpp"
#include "util.hpp"

#include <charnn/batches.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/progress.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>

namespace charnn {

namespace fs = std::filesystem;
using namespace detail;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string hex64(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

void install_stop_signals() {
  g_stop_signal = 0;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

int pending_stop_signal() {
  return static_cast<int>(g_stop_signal);
}

double evaluate_loss(Model& model, std::span<const std::int32_t> ids, std::int64_t N,
                     std::int64_t T, std::int64_t* scored) {
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  if (scored) *scored = 0;
  if (n < 2) return kNaN;
  N = std::max<std::int64_t>(1, std::min(N, (n - 1) / std::max<std::int64_t>(T, 1)));
  const std::int64_t L = (n - 1) / N;  // units per stream
  T = std::min(T, L);
  const std::int64_t segments = L / T;
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(T * N));   // (T, N)
  std::vector<std::int32_t> targets(static_cast<std::size_t>(T * N));  // (T, N)
  Model::State state = model.zero_state(N);
  double total = 0;
  for (std::int64_t s = 0; s < segments; ++s) {
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t k = 0; k < N; ++k) {
        const std::int64_t p = k * L + s * T + t;
        inputs[static_cast<std::size_t>(t * N + k)] = ids[static_cast<std::size_t>(p)];
        targets[static_cast<std::size_t>(t * N + k)] = ids[static_cast<std::size_t>(p + 1)];
      }
    total += model.evaluate(inputs, targets, T, state);
  }
  const std::int64_t count = segments * T * N;
  if (scored) *scored = count;
  return total / static_cast<double>(count);
}

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
  }
  return Progress::Mode::plain;
}

// Training loss and gradient norm summed since the last metrics row, and the throughput.
struct Window {
  double loss = 0, norm = 0;
  std::int64_t steps = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double rate = 0;  // units per second over the window

  double mean_loss() const { return steps ? loss / static_cast<double>(steps) : kNaN; }
  double mean_norm() const { return steps ? norm / static_cast<double>(steps) : kNaN; }
  void restart() { *this = Window{.rate = rate}; }
};

class Trainer {
 public:
  Trainer(const TrainConfig& given, const PluginRegistry& plugins, const TrainHooks& hooks,
          const TrainFaults& faults)
      : plugins_(plugins),
        hooks_(hooks),
        faults_(faults),
        log_(hooks.log ? *hooks.log : std::cerr) {
    config_ = given;
    if (!given.resume.empty()) load_resume(given);
    validate(config_);
    if (config_.epochs == 0 && config_.max_iters == 0 && config_.time_limit == 0 &&
        given.resume.empty())
      config_.time_limit = kDefaultTimeLimit;
    set_threads(given.threads);
  }

  TrainResult run();

 private:
  // Setting up.
  void load_resume(const TrainConfig& given);
  void prepare_data();
  void build_model();
  void restore_from_checkpoint();
  void start();
  // The steps of one iteration.
  std::string stop_reason() const;
  void next_batch();
  double forward_backward();
  void guard_divergence(double loss, double norm, double lr);
  void advance(double loss, double norm);
  void log_validate_checkpoint(double lr);
  bool stop_requested() const;
  // Validation, checkpoints and the end.
  double validate_now(bool full, std::int64_t* scored);
  void validate_and_save();
  void validate_whole_split();
  void save_checkpoint(const fs::path& file);
  void metrics_row(double lr, double train_loss, double norm, double valid,
                   std::int64_t valid_units = 0);
  TrainResult interrupt();
  TrainResult finish(const std::string& reason);
  TrainResult result() const;
  // Reporting.
  double elapsed() const { return state_.elapsed + session_seconds(); }
  double session_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double progress_fraction() const;
  std::string status_line() const;
  std::string describe_best() const;
  std::string validation_text(double v) const;
  bool can_validate() const { return split_.valid.size() >= 2; }
  bool eval_is_slice() const {
    return config_.eval_units > 0 &&
           static_cast<std::int64_t>(split_.valid.size()) > config_.eval_units;
  }

  const PluginRegistry& plugins_;
  const TrainHooks& hooks_;
  const TrainFaults& faults_;
  std::ostream& log_;
  TrainConfig config_;
  bool resuming_ = false;
  CheckpointData resume_data_;
  fs::path run_dir_;

  Vocab vocab_;
  std::vector<std::int32_t> ids_;  // the whole corpus as ids
  Split split_;                    // views into ids_
  std::uint64_t fingerprint_ = 0;  // of the training split, checked on resume

  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Batches> batches_;
  Model::State carried_;               // recurrent state carried across segments, (S_l, N, H)
  std::vector<std::int32_t> inputs_;   // (T, N)
  std::vector<std::int32_t> targets_;  // (T, N)
  std::string precision_;              // what config_.precision resolved to
  TrainState state_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<Progress> progress_;
  Window window_;
  double last_lr_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::int64_t session_start_iteration_ = 0;
  std::int64_t last_eval_iteration_ = -1;
  int signal_ = 0;
};

// The loop, as in a textbook: batch, forward, backward, clip, update, log.
TrainResult Trainer::run() {
  start();
  std::string reason;
  while ((reason = stop_reason()).empty()) {
    next_batch();
    const double lr = config_.schedule.at(
        state_.iteration, batches_->epoch_fraction(state_.position), progress_fraction());
    last_lr_ = lr;
    const double loss = forward_backward();
    const double norm = clip_by_global_norm(model_->grads(), config_.clip);
    guard_divergence(loss, norm, lr);
    optimizer_->step(model_->params(), model_->grads(), lr);
    advance(loss, norm);
    log_validate_checkpoint(lr);
    if (stop_requested()) return interrupt();
  }
  return finish(reason);
}

void Trainer::load_resume(const TrainConfig& given) {
  const ResumePoint point = find_resume_point(given.resume);
  resume_data_ = read_checkpoint(point.checkpoint);
  std::map<std::string, std::string> keys;
  for (const auto& [k, v] : resume_data_.header)
    if (k.rfind("config.", 0) == 0) keys[k.substr(7)] = v;
  const auto now = config_to_keys(given);
  for (const auto& key : given.resume_overrides) {
    if (!resumable(key))
      throw error(option_name(key) + " cannot change when resuming (it defines the run in " +
                      point.checkpoint.string() + ")",
                  "resume without it, or start a new run");
    keys[key] = now.at(key);
  }
  config_ = config_from_keys(keys, point.checkpoint);
  config_.threads = given.threads;
  config_.progress = given.progress;
  config_.resume = given.resume;
  run_dir_ = point.run_dir;
  resuming_ = true;
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

void Trainer::build_model() {
  const std::int64_t N = config_.batch, T = config_.seq_len;
  if (resuming_) {
    model_ = model_from_checkpoint(resume_data_, plugins_);
  } else {
    ModelConfig mc;
    mc.cells = config_.cells;
    mc.hidden = config_.hidden;
    mc.vocab_size = vocab_.size();
    mc.dropout = config_.dropout;
    model_ = std::make_unique<Model>(mc, plugins_);
    model_->init_params(config_.seed);
  }
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
  prepare_data();
  build_model();
  // Only now that the corpus, model and batch shape are known to work: an error above leaves
  // no empty run directory behind (and runs/latest keeps pointing at a usable run).
  if (!resuming_) run_dir_ = create_run_dir(config_);
  if (resuming_) restore_from_checkpoint();
  metrics_ = std::make_unique<MetricsLog>(run_dir_, resuming_, state_.iteration);
  if (!resuming_) write_text_file(run_dir_ / "config.json", config_to_json(config_));

  progress_ = std::make_unique<Progress>(log_, progress_mode(config_.progress, log_));
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
                    .threads = get_threads()};
  progress_->message(training_banner(config_, facts));
  if (!can_validate())
    progress_->message("  no validation split (" + option_name("split") +
                       " gives it 0 units): best.ckpt is not written, last.ckpt is the model");
  start_ = std::chrono::steady_clock::now();
  window_ = Window{};
  session_start_iteration_ = state_.iteration;
}

std::string Trainer::stop_reason() const {
  if (config_.max_iters > 0 && state_.iteration >= config_.max_iters) return "max_iters";
  if (config_.epochs > 0 && state_.position.epoch >= config_.epochs) return "epochs";
  if (config_.time_limit > 0 && elapsed() >= config_.time_limit) return "time";
  if (config_.patience > 0 && state_.evals_since_best >= config_.patience) return "early_stopping";
  return {};
}

void Trainer::next_batch() {
  if (state_.position.segment == 0)  // a new epoch: streams jump, so the carried state restarts
    for (auto& l : carried_.layers) std::fill(l.begin(), l.end(), 0.0f);
  batches_->fill(state_.position, inputs_.data(), targets_.data());
}

// Forward and backward over the segment; the gradients land in model_->grads(). The dropout
// masks follow the iteration, not the session, so a resumed run draws the same ones.
double Trainer::forward_backward() {
  const std::uint64_t dropout_seed = splitmix64(config_.seed * 0x2545f4914f6cdd1dull +
                                                static_cast<std::uint64_t>(state_.iteration));
  const double loss =
      model_->train_step(inputs_, targets_, config_.seq_len, carried_, dropout_seed);
  if (faults_.inject_nan_at == state_.iteration + 1) return kNaN;
  return loss;
}

void Trainer::guard_divergence(double loss, double norm, double lr) {
  if (std::isfinite(loss) && std::isfinite(norm)) return;
  progress_->finish();
  const std::string lr_flag = option_name("lr"), clip_flag = option_name("clip");
  throw error(
      "training diverged at iteration " + std::to_string(state_.iteration + 1) + ": the loss is " +
          fixed(loss, 4) + " and the gradient norm " + fixed(norm, 4) + " (learning rate " +
          short_num(lr) + "); " + describe_best() + ", kept in " +
          (run_dir_ / "best.ckpt").string(),
      "lower the learning rate or the clipping threshold (now " + lr_flag + " " +
          short_num(config_.schedule.lr) + ", " + clip_flag + " " + short_num(config_.clip) +
          "); to continue from the last checkpoint: " + "charnn train " + option_name("resume") +
          " " + run_dir_.string() + " " + lr_flag + " " + short_num(config_.schedule.lr / 2));
}

void Trainer::advance(double loss, double norm) {
  const std::int64_t units = config_.seq_len * config_.batch;
  ++state_.iteration;
  state_.units_seen += units;
  state_.position = batches_->next(state_.position);
  state_.train_ema = std::isnan(state_.train_ema) ? loss : 0.95 * state_.train_ema + 0.05 * loss;
  window_.loss += loss;
  window_.norm += norm;
  ++window_.steps;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_.start).count();
  if (seconds > 0) window_.rate = static_cast<double>(window_.steps * units) / seconds;
  if (hooks_.on_step) hooks_.on_step(state_.iteration, loss);
}

void Trainer::log_validate_checkpoint(double lr) {
  const bool eval = state_.iteration % config_.eval_every == 0;
  const bool log = state_.iteration % config_.log_every == 0;
  if (eval)
    validate_and_save();
  else if (log)
    metrics_row(lr, window_.mean_loss(), window_.mean_norm(), kNaN);
  if (eval || log) window_.restart();
  progress_->update(status_line());
}

bool Trainer::stop_requested() const {
  return (hooks_.watch_signals && pending_stop_signal() != 0) ||
         (faults_.interrupt_after > 0 && state_.iteration == faults_.interrupt_after);
}

double Trainer::validate_now(bool full, std::int64_t* scored) {
  std::span<const std::int32_t> ids = split_.valid;
  if (!full && eval_is_slice()) ids = ids.first(static_cast<std::size_t>(config_.eval_units));
  last_eval_iteration_ = state_.iteration;
  return evaluate_loss(*model_, ids, config_.batch, config_.seq_len, scored);
}

// The periodic validation, on the first --eval-units units of the split: it alone decides
// best.ckpt and early stopping, so that models are always compared on the same text.
void Trainer::validate_and_save() {
  if (!can_validate()) {
    last_eval_iteration_ = state_.iteration;
    save_checkpoint(run_dir_ / "last.ckpt");
    return;
  }
  std::int64_t scored = 0;
  const double v = validate_now(false, &scored);
  state_.last_valid = v;
  const bool better = std::isfinite(v) && v < state_.best_valid;
  if (better) {
    state_.best_valid = v;
    state_.best_iteration = state_.iteration;
    state_.evals_since_best = 0;
  } else {
    ++state_.evals_since_best;
  }
  metrics_row(last_lr_, window_.mean_loss(), window_.mean_norm(), v, scored);
  if (better) save_checkpoint(run_dir_ / "best.ckpt");
  save_checkpoint(run_dir_ / "last.ckpt");
  progress_->message("iter " + thousands(state_.iteration) + " (" + format_duration(elapsed()) +
                     "): validation " + validation_text(v) + (better ? " (best)" : ""));
}

// At the end, the whole split as well, for the figure to report; the whole split is harder
// or easier than its first part, so this one is not compared with the best.
void Trainer::validate_whole_split() {
  std::int64_t scored = 0;
  const double v = validate_now(true, &scored);
  state_.last_valid = v;
  metrics_row(last_lr_, kNaN, kNaN, v, scored);
  save_checkpoint(run_dir_ / "last.ckpt");
  progress_->message("iter " + thousands(state_.iteration) + " (" + format_duration(elapsed()) +
                     "): validation on the whole split (" + thousands(scored) + " units) " +
                     validation_text(v));
}

void Trainer::save_checkpoint(const fs::path& file) {
  CheckpointData d;
  for (const auto& [k, v] : config_to_keys(config_)) d.header["config." + k] = v;
  d.header["charnn.version"] = CHARNN_VERSION;
  TrainState now = state_;
  now.elapsed = elapsed();
  now.optimizer_steps = optimizer_->steps();
  now.streams = carried_.N;
  now.save(d);
  d.header["corpus.fingerprint"] = hex64(fingerprint_);
  d.set("corpus.train_units", static_cast<std::int64_t>(split_.train.size()));
  d.vocab = vocab_;
  store_model(*model_, d);
  d.optimizer.assign(optimizer_->state().begin(), optimizer_->state().end());
  for (const auto& layer : carried_.layers)
    d.state.insert(d.state.end(), layer.begin(), layer.end());
  write_checkpoint(file, d);
}

void Trainer::metrics_row(double lr, double train_loss, double norm, double valid,
                          std::int64_t valid_units) {
  metrics_->write({.iteration = state_.iteration,
                   .epoch = batches_->epoch_fraction(state_.position),
                   .seconds = elapsed(),
                   .units = state_.units_seen,
                   .lr = lr,
                   .train_loss = train_loss,
                   .grad_norm = norm,
                   .valid_loss = valid,
                   .units_per_second = window_.rate,
                   .valid_units = valid_units});
}

TrainResult Trainer::interrupt() {
  save_checkpoint(run_dir_ / "last.ckpt");
  progress_->finish();
  const int sig = hooks_.watch_signals ? pending_stop_signal() : 0;
  const std::string what = sig == SIGINT    ? "interrupted (SIGINT)"
                           : sig == SIGTERM ? "terminated (SIGTERM)"
                                            : "interrupted";
  progress_->message(what + " at iteration " + std::to_string(state_.iteration) + "; saved " +
                     (run_dir_ / "last.ckpt").string() + "\nresume with: charnn train " +
                     option_name("resume") + " " + run_dir_.string());
  TrainResult r = result();
  r.stop_reason = "interrupted";
  r.signal = sig;
  return r;
}

TrainResult Trainer::finish(const std::string& reason) {
  if (last_eval_iteration_ != state_.iteration) validate_and_save();
  if (can_validate() && eval_is_slice()) validate_whole_split();
  progress_->finish();
  const std::string why = reason == "max_iters" ? "reached " + option_name("max_iters")
                          : reason == "epochs"  ? "reached " + option_name("epochs")
                          : reason == "time"
                              ? std::string("time budget used")
                              : "validation stopped improving (" + option_name("patience") + ")";
  const std::string valid = can_validate() ? "validation " + validation_text(state_.last_valid) +
                                                 (eval_is_slice() ? " (whole split)" : "") + "; " +
                                                 describe_best()
                                           : std::string("no validation split");
  progress_->message("done: " + why + " after " + thousands(state_.iteration) + " iterations (" +
                     fixed(batches_->epoch_fraction(state_.position), 2) + " epochs, " +
                     format_duration(elapsed()) + "); " + valid + "\n  run: " + run_dir_.string() +
                     " (best.ckpt, last.ckpt, metrics.csv)");
  TrainResult r = result();
  r.stop_reason = reason;
  return r;
}

TrainResult Trainer::result() const {
  TrainResult r;
  r.run_dir = run_dir_;
  r.iterations = state_.iteration;
  r.epochs = batches_->epoch_fraction(state_.position);
  r.train_loss = state_.train_ema;
  r.valid_loss = state_.last_valid;
  r.best_valid_loss = state_.best_valid;
  r.seconds = elapsed();
  const double session = session_seconds();
  const std::int64_t units =
      (state_.iteration - session_start_iteration_) * config_.batch * config_.seq_len;
  r.units_per_second = session > 0 ? static_cast<double>(units) / session : 0;
  return r;
}

double Trainer::progress_fraction() const {
  double f = 0;
  if (config_.max_iters > 0)
    f = std::max(f, static_cast<double>(state_.iteration) / static_cast<double>(config_.max_iters));
  if (config_.epochs > 0)
    f = std::max(f,
                 batches_->epoch_fraction(state_.position) / static_cast<double>(config_.epochs));
  if (config_.time_limit > 0) f = std::max(f, elapsed() / config_.time_limit);
  return std::min(f, 1.0);
}

std::string Trainer::validation_text(double v) const {
  return fixed(v, 4) + " nats/unit, " + fixed(v / kLn2, 4) + " bits/unit";
}

std::string Trainer::describe_best() const {
  if (!std::isfinite(state_.best_valid)) return "no validation yet";
  return "best validation " + fixed(state_.best_valid, 4) + " nats/unit (" +
         fixed(state_.best_valid / kLn2, 4) + " bits" +
         (eval_is_slice() ? ", first " + thousands(config_.eval_units) + " units of the split"
                          : std::string()) +
         ") at iteration " + std::to_string(state_.best_iteration);
}

std::string Trainer::status_line() const {
  const double rate = window_.rate;
  const double epoch = batches_->epoch_fraction(state_.position);
  std::string s =
      "iter " + thousands(state_.iteration) + " | epoch " + fixed(epoch, 2) + " | train " +
      (std::isnan(state_.train_ema) ? std::string("-") : fixed(state_.train_ema, 3)) + " | val " +
      (std::isnan(state_.last_valid) ? std::string("-") : fixed(state_.last_valid, 3)) + " | " +
      rate_text(rate) + " units/s | lr " + short_num(last_lr_);
  // ETA: the nearest of the stop conditions that are set.
  double left = std::numeric_limits<double>::infinity();
  const double per_iter = state_.iteration > 0 && rate > 0
                              ? static_cast<double>(config_.batch * config_.seq_len) / rate
                              : 0;
  if (config_.time_limit > 0) left = std::min(left, config_.time_limit - elapsed());
  if (config_.max_iters > 0 && per_iter > 0)
    left = std::min(left, static_cast<double>(config_.max_iters - state_.iteration) * per_iter);
  if (config_.epochs > 0 && per_iter > 0)
    left = std::min(left, (static_cast<double>(config_.epochs) - epoch) *
                              static_cast<double>(batches_->segments_per_epoch()) * per_iter);
  if (std::isfinite(left)) s += " | " + format_duration(left) + " left";
  return s;
}

}  // namespace

TrainResult train(const TrainConfig& config, const PluginRegistry& plugins,
                  const TrainHooks& hooks) {
  return detail::train_with_faults(config, plugins, hooks, {});
}

namespace detail {

TrainResult train_with_faults(const TrainConfig& config, const PluginRegistry& plugins,
                              const TrainHooks& hooks, const TrainFaults& faults) {
  Trainer trainer(config, plugins, hooks, faults);
  return trainer.run();
}

}  // namespace detail

}  // namespace charnn
