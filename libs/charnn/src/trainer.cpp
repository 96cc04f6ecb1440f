// The training loop and everything around it: corpus -> vocabulary -> split -> batches,
// optimiser steps with clipping and the LR schedule, validation, metrics.csv, last/best
// checkpoints, stop conditions, signals and exact resume. See trainer.hpp.
#include "charnn/trainer.hpp"
#include "util.hpp"

#include <charnn/batches.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/progress.hpp>
#include <charnn/threads.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

namespace charnn {

namespace fs = std::filesystem;

namespace {

using detail::splitmix64;

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string short_num(double v) {  // 3 significant digits: 0.002, 1.5e-05
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string thousands(std::int64_t v) {
  std::string s = std::to_string(v), out;
  const int lead = static_cast<int>(s.size()) % 3;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (static_cast<int>(i) - lead) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

std::string rate_text(double per_second) {
  if (per_second >= 1000) return fixed(per_second / 1000, 1) + "k";
  return fixed(per_second, 0);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string hex64(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

constexpr double kLn2 = 0.69314718055994530942;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Small public helpers.

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
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
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

// ---------------------------------------------------------------------------------------------
// The trainer.

namespace {

// What may change when a run is resumed: how long it runs, how it is watched, and the step
// size (to recover from a divergence); the table marks them. Everything else defines the run.
bool resumable(const std::string& key) {
  for (const auto& o : train_options())
    if (o.key && key == o.key && o.resumable) return true;
  return false;
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

void write_text_file(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.parent_path() / (".tmp-" + file.filename().string());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw error("cannot write " + file.string());
  }
  fs::rename(tmp, file);
}

class Trainer {
 public:
  Trainer(const TrainConfig& given, const PluginRegistry& plugins, const TrainHooks& hooks)
      : plugins_(plugins), hooks_(hooks), log_(hooks.log ? *hooks.log : std::cerr) {
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
  void load_resume(const TrainConfig& given);
  void prepare_data();
  void prepare_run_dir();
  void write_checkpoint_file(const fs::path& file);
  // Loss on the validation slice, or the whole split; *scored receives how many units.
  double validate_now(bool full, std::int64_t* scored);
  void open_metrics();
  double progress_fraction(double elapsed) const;
  std::string status_line(double elapsed, double rate) const;
  std::string describe_best() const;
  double session_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void metrics_row(double elapsed, double lr, double train_loss, double norm, double valid,
                   double rate, std::int64_t valid_units = 0);
  bool eval_is_slice() const {
    return config_.eval_units > 0 &&
           static_cast<std::int64_t>(split_.valid.size()) > config_.eval_units;
  }

  const PluginRegistry& plugins_;
  const TrainHooks& hooks_;
  std::ostream& log_;
  TrainConfig config_;
  bool resuming_ = false;
  CheckpointData resume_data_;
  fs::path run_dir_;

  std::string text_;
  Vocab vocab_;
  std::vector<std::int32_t> ids_;
  Split split_;
  std::uint64_t fingerprint_ = 0;

  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Batches> batches_;
  Model::State state_;
  DataPosition position_;
  std::int64_t iteration_ = 0;
  double elapsed_before_ = 0;  // training seconds of earlier sessions
  double best_valid_ = std::numeric_limits<double>::infinity();
  std::int64_t best_iteration_ = 0;
  double last_valid_ = std::numeric_limits<double>::quiet_NaN();
  std::int64_t evals_since_best_ = 0;
  double train_ema_ = std::numeric_limits<double>::quiet_NaN();
  std::int64_t units_seen_ = 0;
  double last_lr_ = 0;
  double last_norm_ = 0;
  std::ofstream metrics_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::int64_t last_eval_iteration_ = -1;
};

void Trainer::load_resume(const TrainConfig& given) {
  const fs::path file = resolve_checkpoint(given.resume, CheckpointChoice::last);
  resume_data_ = read_checkpoint(file);
  std::map<std::string, std::string> keys;
  for (const auto& [k, v] : resume_data_.header)
    if (k.rfind("config.", 0) == 0) keys[k.substr(7)] = v;
  config_ = config_from_keys(keys, file);
  const auto now = config_to_keys(given);
  for (const auto& key : given.resume_overrides) {
    if (!resumable(key))
      throw error(option_name(key) + " cannot change when resuming (it defines the run in " +
                      file.string() + ")",
                  "resume without it, or start a new run");
    keys[key] = now.at(key);
  }
  const auto corpus = config_.corpus;
  config_ = config_from_keys(keys, file);
  config_.threads = given.threads;
  config_.progress = given.progress;
  config_.resume = given.resume;
  run_dir_ = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  resuming_ = true;
}

void Trainer::prepare_data() {
  text_ = read_text(config_.corpus, config_.text);
  if (resuming_) {
    vocab_ = resume_data_.vocab;
  } else {
    UnitCounter counter(config_.text.units);
    counter.add_text(text_);
    vocab_ = Vocab::build(counter, config_.text, config_.vocab);
  }
  ids_ = vocab_.encode(text_);
  text_.clear();
  text_.shrink_to_fit();
  split_ = split_corpus(ids_, config_.split);
  fingerprint_ = fnv1a64(split_.train.data(), split_.train.size_bytes());
  if (resuming_) {
    const std::string was = resume_data_.get_string("corpus.fingerprint");
    if (was != hex64(fingerprint_))
      throw error("the corpus differs from the one " + resume_data_.file.string() +
                      " was trained on (" + std::to_string(split_.train.size()) +
                      " training units now, " + resume_data_.get_string("corpus.train_units") +
                      " then)",
                  "resume with the same corpus files (pass them again if they moved)");
  }
}

void Trainer::prepare_run_dir() {
  std::error_code ec;
  if (resuming_) return;
  if (!config_.out.empty()) {
    run_dir_ = config_.out;
    if (fs::exists(run_dir_ / "last.ckpt", ec))
      throw error(run_dir_.string() + " already holds a run (last.ckpt)",
                  "continue it with --resume " + run_dir_.string() + ", or choose another --out");
    fs::create_directories(run_dir_, ec);
    if (ec) throw error("cannot create run directory " + run_dir_.string() + ": " + ec.message());
    return;
  }
  const fs::path runs = "runs";
  fs::create_directories(runs, ec);
  if (ec)
    throw error("cannot create " + fs::absolute(runs).string() + ": " + ec.message(),
                "run in a writable directory or pass --out DIR");
  const std::string base = config_.corpus.front().stem().string() + "-" + timestamp();
  std::string name = base;
  for (int i = 2; fs::exists(runs / name, ec); ++i) name = base + "-" + std::to_string(i);
  fs::create_directory(runs / name, ec);
  if (ec) throw error("cannot create " + (runs / name).string() + ": " + ec.message());
  run_dir_ = runs / name;
  point_symlink(runs / "latest", name);
}

void Trainer::write_checkpoint_file(const fs::path& file) {
  CheckpointData d;
  for (const auto& [k, v] : config_to_keys(config_)) d.header["config." + k] = v;
  d.header["charnn.version"] = CHARNN_VERSION;
  d.set("state.iteration", iteration_);
  d.set("state.epoch", position_.epoch);
  d.set("state.segment", position_.segment);
  d.set("state.elapsed", elapsed_before_ + session_seconds());
  d.set("state.best_valid", best_valid_);
  d.set("state.best_iteration", best_iteration_);
  d.set("state.last_valid", last_valid_);
  d.set("state.evals_since_best", evals_since_best_);
  d.set("state.train_ema", train_ema_);
  d.set("state.units_seen", units_seen_);
  d.set("state.optimizer_steps", optimizer_->steps());
  d.set("state.streams", state_.N);
  d.header["corpus.fingerprint"] = hex64(fingerprint_);
  d.set("corpus.train_units", static_cast<std::int64_t>(split_.train.size()));
  d.vocab = vocab_;
  store_model(*model_, d);
  d.optimizer.assign(optimizer_->state().begin(), optimizer_->state().end());
  for (const auto& layer : state_.layers) d.state.insert(d.state.end(), layer.begin(), layer.end());
  write_checkpoint(file, d);
}

double Trainer::progress_fraction(double elapsed) const {
  double f = 0;
  if (config_.max_iters > 0)
    f = std::max(f, static_cast<double>(iteration_) / static_cast<double>(config_.max_iters));
  if (config_.epochs > 0)
    f = std::max(f, batches_->epoch_fraction(position_) / static_cast<double>(config_.epochs));
  if (config_.time_limit > 0) f = std::max(f, elapsed / config_.time_limit);
  return std::min(f, 1.0);
}

double Trainer::validate_now(bool full, std::int64_t* scored) {
  std::span<const std::int32_t> ids = split_.valid;
  if (!full && eval_is_slice()) ids = ids.first(static_cast<std::size_t>(config_.eval_units));
  last_eval_iteration_ = iteration_;
  return evaluate_loss(*model_, ids, config_.batch, config_.seq_len, scored);
}

std::string Trainer::describe_best() const {
  if (!std::isfinite(best_valid_)) return "no validation yet";
  return "best validation " + fixed(best_valid_, 4) + " nats/unit (" +
         fixed(best_valid_ / kLn2, 4) + " bits" +
         (eval_is_slice() ? ", first " + thousands(config_.eval_units) + " units of the split"
                          : std::string()) +
         ") at iteration " + std::to_string(best_iteration_);
}

void Trainer::open_metrics() {
  const fs::path file = run_dir_ / "metrics.csv";
  const std::string header =
      "iteration,epoch,seconds,units,lr,train_loss,grad_norm,valid_loss,valid_bits,units_per_"
      "second,valid_units";
  std::error_code ec;
  if (resuming_ && fs::exists(file, ec)) {
    // Drop rows logged after the checkpoint we resume from (a kill -9 between checkpoints), so
    // the file reads as one uninterrupted run.
    std::ifstream in(file);
    std::string line, kept;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {  // the current header, also over a file from an older charnn
        kept += header + "\n";
        first = false;
        continue;
      }
      const long long it = std::strtoll(line.c_str(), nullptr, 10);
      if (it <= iteration_) kept += line + "\n";
    }
    in.close();
    write_text_file(file, kept);
    metrics_.open(file, std::ios::app);
  } else {
    metrics_.open(file, std::ios::trunc);
    metrics_ << header << "\n";
  }
  if (!metrics_) throw error("cannot write " + file.string());
  metrics_.flush();
}

void Trainer::metrics_row(double elapsed, double lr, double train_loss, double norm, double valid,
                          double rate, std::int64_t valid_units) {
  auto opt = [](double v, int digits) { return std::isnan(v) ? std::string() : fixed(v, digits); };
  metrics_ << iteration_ << "," << fixed(batches_->epoch_fraction(position_), 4) << ","
           << fixed(elapsed, 2) << "," << units_seen_ << "," << short_num(lr) << ","
           << opt(train_loss, 5) << "," << opt(norm, 4) << "," << opt(valid, 5) << ","
           << opt(std::isnan(valid) ? valid : valid / kLn2, 5) << "," << fixed(rate, 0) << ","
           << (valid_units > 0 ? std::to_string(valid_units) : std::string()) << "\n";
  metrics_.flush();
}

std::string Trainer::status_line(double elapsed, double rate) const {
  std::string s = "iter " + thousands(iteration_) + " | epoch " +
                  fixed(batches_->epoch_fraction(position_), 2) + " | train " +
                  (std::isnan(train_ema_) ? std::string("-") : fixed(train_ema_, 3)) + " | val " +
                  (std::isnan(last_valid_) ? std::string("-") : fixed(last_valid_, 3)) + " | " +
                  rate_text(rate) + " units/s | lr " + short_num(last_lr_);
  // ETA: the nearest of the stop conditions that are set.
  double left = std::numeric_limits<double>::infinity();
  const double per_iter =
      iteration_ > 0 && rate > 0 ? static_cast<double>(config_.batch * config_.seq_len) / rate : 0;
  if (config_.time_limit > 0) left = std::min(left, config_.time_limit - elapsed);
  if (config_.max_iters > 0 && per_iter > 0)
    left = std::min(left, static_cast<double>(config_.max_iters - iteration_) * per_iter);
  if (config_.epochs > 0 && per_iter > 0)
    left =
        std::min(left, (static_cast<double>(config_.epochs) - batches_->epoch_fraction(position_)) *
                           static_cast<double>(batches_->segments_per_epoch()) * per_iter);
  if (std::isfinite(left)) s += " | " + format_duration(left) + " left";
  return s;
}

TrainResult Trainer::run() {
  prepare_data();
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
  const std::string precision = model_->set_train_precision(config_.precision);
  optimizer_ = std::make_unique<Optimizer>(config_.optimizer,
                                           static_cast<std::int64_t>(model_->params().size()));
  batches_ = std::make_unique<Batches>(split_.train, N, T, config_.seed);
  state_ = model_->zero_state(N);
  // Only now that the corpus, model and batch shape are known to work: an error above leaves
  // no empty run directory behind (and runs/latest keeps pointing at a usable run).
  prepare_run_dir();
  if (resuming_) {
    const CheckpointData& d = resume_data_;
    if (d.optimizer.size() != optimizer_->state().size())
      throw error(d.file.string() + ": holds no optimiser state for " +
                      to_string(config_.optimizer.kind) + " (" +
                      std::to_string(d.optimizer.size()) + " floats)",
                  "resume from a checkpoint written by 'charnn train'");
    std::copy(d.optimizer.begin(), d.optimizer.end(), optimizer_->state().begin());
    optimizer_->set_steps(d.get_int("state.optimizer_steps"));
    std::size_t want = 0;
    for (const auto& l : state_.layers) want += l.size();
    if (d.state.size() != want || d.get_int("state.streams") != N)
      throw error(d.file.string() + ": the saved recurrent state does not match --batch " +
                  std::to_string(N));
    std::size_t at = 0;
    for (auto& l : state_.layers) {
      std::copy_n(d.state.begin() + static_cast<std::ptrdiff_t>(at), l.size(), l.begin());
      at += l.size();
    }
    iteration_ = d.get_int("state.iteration");
    position_.epoch = d.get_int("state.epoch");
    position_.segment = d.get_int("state.segment");
    if (position_.segment < 0 || position_.segment >= batches_->segments_per_epoch())
      throw error(d.file.string() + ": the saved data position is outside the corpus");
    elapsed_before_ = d.get_double("state.elapsed");
    best_valid_ = d.get_double("state.best_valid");
    best_iteration_ = d.get_int("state.best_iteration");
    last_valid_ = d.get_double("state.last_valid");
    evals_since_best_ = d.get_int("state.evals_since_best");
    train_ema_ = d.get_double("state.train_ema");
    units_seen_ = d.get_int("state.units_seen");
    resume_data_ = CheckpointData{};  // free the copy of the parameters
  }
  open_metrics();
  if (!resuming_) write_text_file(run_dir_ / "config.json", config_to_json(config_));

  Progress::Mode mode = Progress::Mode::plain;
  switch (config_.progress) {
    case TrainConfig::ProgressMode::automatic:
      mode = Progress::is_terminal(log_) ? Progress::Mode::live : Progress::Mode::plain;
      break;
    case TrainConfig::ProgressMode::live:
      mode = Progress::Mode::live;
      break;
    case TrainConfig::ProgressMode::plain:
      mode = Progress::Mode::plain;
      break;
    case TrainConfig::ProgressMode::quiet:
      mode = Progress::Mode::quiet;
      break;
  }
  Progress progress(log_, mode);
  {
    std::string stops;
    if (config_.time_limit > 0) stops += " time " + format_duration(config_.time_limit);
    if (config_.max_iters > 0) stops += " max-iters " + std::to_string(config_.max_iters);
    if (config_.epochs > 0) stops += " epochs " + std::to_string(config_.epochs);
    if (config_.patience > 0) stops += " patience " + std::to_string(config_.patience);
    if (stops.empty()) stops = " none (Ctrl-C stops and checkpoints)";
    progress.message(
        std::string(resuming_ ? "resuming " : "training ") + run_dir_.string() + " at iteration " +
        std::to_string(iteration_) +
        "\n  corpus: " + thousands(static_cast<std::int64_t>(ids_.size())) + " units (" +
        to_string(config_.text.units) + "), vocabulary " + std::to_string(vocab_.size()) +
        "; train " + thousands(static_cast<std::int64_t>(split_.train.size())) + ", validation " +
        thousands(static_cast<std::int64_t>(split_.valid.size())) +
        "\n  model: " + join(config_.cells, ",") + " x " + std::to_string(config_.hidden) + ", " +
        thousands(static_cast<std::int64_t>(model_->params().size())) + " parameters, dropout " +
        short_num(config_.dropout) + "\n  batch " + std::to_string(N) + " streams x " +
        std::to_string(T) + " steps (" + thousands(batches_->segments_per_epoch()) +
        " iterations per epoch), " + to_string(config_.optimizer.kind) + " lr " +
        short_num(config_.schedule.lr) + " (" + to_string(config_.schedule.kind) + "), clip " +
        short_num(config_.clip) + ", " + precision + ", threads " + std::to_string(get_threads()) +
        "\n  stop:" + stops);
  }

  std::vector<std::int32_t> inputs(static_cast<std::size_t>(T * N));   // (T, N)
  std::vector<std::int32_t> targets(static_cast<std::size_t>(T * N));  // (T, N)
  start_ = std::chrono::steady_clock::now();
  double window_loss = 0, window_norm = 0;
  std::int64_t window_steps = 0;
  auto window_start = start_;
  double rate = 0;  // units per second over the last window
  const std::int64_t session_start_iteration = iteration_;
  TrainResult result;
  result.run_dir = run_dir_;

  const bool can_validate = split_.valid.size() >= 2;
  if (!can_validate)
    progress.message(
        "  no validation split (--split gives it 0 units): best.ckpt is not written, "
        "last.ckpt is the model");
  const auto window_mean = [&](double sum) {
    return window_steps ? sum / static_cast<double>(window_steps)
                        : std::numeric_limits<double>::quiet_NaN();
  };
  // The periodic validation, on the first --eval-units units of the split: it alone decides
  // best.ckpt and early stopping, so that models are always compared on the same text.
  auto evaluate_and_save = [&](double elapsed) {
    if (!can_validate) {
      last_eval_iteration_ = iteration_;
      write_checkpoint_file(run_dir_ / "last.ckpt");
      return;
    }
    std::int64_t scored = 0;
    const double v = validate_now(false, &scored);
    last_valid_ = v;
    const bool better = std::isfinite(v) && v < best_valid_;
    if (better) {
      best_valid_ = v;
      best_iteration_ = iteration_;
      evals_since_best_ = 0;
    } else {
      ++evals_since_best_;
    }
    metrics_row(elapsed, last_lr_, window_mean(window_loss), window_mean(window_norm), v, rate,
                scored);
    if (better) write_checkpoint_file(run_dir_ / "best.ckpt");
    write_checkpoint_file(run_dir_ / "last.ckpt");
    progress.message("iter " + thousands(iteration_) + " (" + format_duration(elapsed) +
                     "): validation " + fixed(v, 4) + " nats/unit, " + fixed(v / kLn2, 4) +
                     " bits/unit" + (better ? " (best)" : ""));
  };
  // At the end, the whole split as well, for the figure to report; the whole split is harder
  // or easier than its first part, so this one is not compared with the best.
  auto evaluate_whole = [&](double elapsed) {
    std::int64_t scored = 0;
    const double v = validate_now(true, &scored);
    last_valid_ = v;
    metrics_row(elapsed, last_lr_, std::numeric_limits<double>::quiet_NaN(),
                std::numeric_limits<double>::quiet_NaN(), v, rate, scored);
    write_checkpoint_file(run_dir_ / "last.ckpt");
    progress.message("iter " + thousands(iteration_) + " (" + format_duration(elapsed) +
                     "): validation on the whole split (" + thousands(scored) +
                     " units) " + fixed(v, 4) + " nats/unit, " + fixed(v / kLn2, 4) +
                     " bits/unit");
  };

  std::string reason;
  while (true) {
    const double elapsed = elapsed_before_ + session_seconds();
    if (config_.max_iters > 0 && iteration_ >= config_.max_iters)
      reason = "max_iters";
    else if (config_.epochs > 0 && position_.epoch >= config_.epochs)
      reason = "epochs";
    else if (config_.time_limit > 0 && elapsed >= config_.time_limit)
      reason = "time";
    else if (config_.patience > 0 && evals_since_best_ >= config_.patience)
      reason = "early_stopping";
    if (!reason.empty()) break;

    if (position_.segment == 0)  // a new epoch: streams jump, so the carried state restarts
      for (auto& l : state_.layers) std::fill(l.begin(), l.end(), 0.0f);
    batches_->fill(position_, inputs.data(), targets.data());
    const double lr = config_.schedule.at(iteration_, batches_->epoch_fraction(position_),
                                          progress_fraction(elapsed));
    last_lr_ = lr;
    double loss = model_->train_step(
        inputs, targets, T, state_,
        splitmix64(config_.seed * 0x2545f4914f6cdd1dull + static_cast<std::uint64_t>(iteration_)));
    if (hooks_.inject_nan_at == iteration_ + 1) loss = std::numeric_limits<double>::quiet_NaN();
    const double norm = clip_by_global_norm(model_->grads(), config_.clip);
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      progress.finish();
      throw error("training diverged at iteration " + std::to_string(iteration_ + 1) +
                      ": the loss is " + fixed(loss, 4) + " and the gradient norm " +
                      fixed(norm, 4) + " (learning rate " + short_num(lr) + "); " +
                      describe_best() + ", kept in " + (run_dir_ / "best.ckpt").string(),
                  "lower the learning rate or the clipping threshold (now --lr " +
                      short_num(config_.schedule.lr) + ", --clip " + short_num(config_.clip) +
                      "); to continue from the last checkpoint: charnn train --resume " +
                      run_dir_.string() + " --lr " + short_num(config_.schedule.lr / 2));
    }
    optimizer_->step(model_->params(), model_->grads(), lr);
    ++iteration_;
    units_seen_ += T * N;
    position_ = batches_->next(position_);
    train_ema_ = std::isnan(train_ema_) ? loss : 0.95 * train_ema_ + 0.05 * loss;
    window_loss += loss;
    window_norm += norm;
    ++window_steps;
    if (hooks_.on_step) hooks_.on_step(iteration_, loss);

    const auto now = std::chrono::steady_clock::now();
    const double now_elapsed = elapsed_before_ + session_seconds();
    const double window_seconds = std::chrono::duration<double>(now - window_start).count();
    if (window_seconds > 0) rate = static_cast<double>(window_steps * T * N) / window_seconds;
    if (iteration_ % config_.eval_every == 0) {
      evaluate_and_save(now_elapsed);
    } else if (iteration_ % config_.log_every == 0) {
      metrics_row(now_elapsed, lr, window_mean(window_loss), window_mean(window_norm),
                  std::numeric_limits<double>::quiet_NaN(), rate);
    }
    if (iteration_ % config_.log_every == 0 || iteration_ % config_.eval_every == 0) {
      window_loss = window_norm = 0;
      window_steps = 0;
      window_start = std::chrono::steady_clock::now();
    }
    progress.update(status_line(now_elapsed, rate));

    const int sig = hooks_.watch_signals ? pending_stop_signal() : 0;
    if (sig != 0 || (hooks_.interrupt_after > 0 && iteration_ == hooks_.interrupt_after)) {
      write_checkpoint_file(run_dir_ / "last.ckpt");
      progress.finish();
      const std::string what = sig == SIGINT    ? "interrupted (SIGINT)"
                               : sig == SIGTERM ? "terminated (SIGTERM)"
                                                : "interrupted";
      progress.message(what + " at iteration " + std::to_string(iteration_) + "; saved " +
                       (run_dir_ / "last.ckpt").string() + "\nresume with: charnn train --resume " +
                       run_dir_.string());
      result.stop_reason = "interrupted";
      result.signal = sig;
      reason.clear();
      break;
    }
  }

  const double elapsed = elapsed_before_ + session_seconds();
  if (!reason.empty()) {
    if (last_eval_iteration_ != iteration_) evaluate_and_save(elapsed);
    if (can_validate && eval_is_slice()) evaluate_whole(elapsed);
    progress.finish();
    const std::string why = reason == "max_iters" ? "reached --max-iters"
                            : reason == "epochs"  ? "reached --epochs"
                            : reason == "time"    ? "time budget used"
                                                  : "validation stopped improving (--patience)";
    progress.message("done: " + why + " after " + thousands(iteration_) + " iterations (" +
                     fixed(batches_->epoch_fraction(position_), 2) + " epochs, " +
                     format_duration(elapsed) + "); " +
                     (can_validate
                          ? "validation " + fixed(last_valid_, 4) + " nats/unit, " +
                                fixed(last_valid_ / kLn2, 4) + " bits/unit" +
                                (eval_is_slice() ? " (whole split)" : "") + "; " +
                                describe_best()
                          : std::string("no validation split")) +
                     "\n  run: " + run_dir_.string() + " (best.ckpt, last.ckpt, metrics.csv)");
    result.stop_reason = reason;
  }
  result.iterations = iteration_;
  result.epochs = batches_->epoch_fraction(position_);
  result.train_loss = train_ema_;
  result.valid_loss = last_valid_;
  result.best_valid_loss = best_valid_;
  result.seconds = elapsed;
  const double session = session_seconds();
  result.units_per_second =
      session > 0 ? static_cast<double>((iteration_ - session_start_iteration) * T * N) / session
                  : 0;
  return result;
}

}  // namespace

TrainResult train(const TrainConfig& config, const PluginRegistry& plugins,
                  const TrainHooks& hooks) {
  Trainer trainer(config, plugins, hooks);
  return trainer.run();
}

}  // namespace charnn
