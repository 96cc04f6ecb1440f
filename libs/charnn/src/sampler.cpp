// Sampling: preparing the seed, and the generation loop over parallel streams.
#include "charnn/sampler.hpp"

#include "stream_priming.hpp"

#include "charnn/error.hpp"
#include "charnn/json.hpp"
#include "charnn/model.hpp"
#include "charnn/text.hpp"
#include "charnn/threads.hpp"
#include "charnn/vocab.hpp"
#include "enum_names.hpp"
#include "util.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace charnn {


namespace {

// Chooses the thread count of Model::step while sampling (SampleOptions::tune_threads). A round
// times kProbe steps on 1 thread, then up to kProbe on `most` threads (stopped as soon as they
// have taken longer than the 1-thread steps: on a busy machine a single parallel step can cost
// milliseconds), then runs the faster for a stretch that doubles while the choice stays the
// same (kRun up to kMaxRun steps), so a machine that gets busy or quiet mid-run is followed and
// probing the slower count costs little. Results do not depend on the thread count
// (Model::step is reproducible across it), so switching never changes the text.
class StepThreads {
 public:
  StepThreads(bool tune, int most) : most_(tune ? most : 1), saved_(get_threads()) {}
  ~StepThreads() {
    if (current_ != 0 && current_ != saved_) set_threads(saved_);
  }
  StepThreads(const StepThreads&) = delete;
  StepThreads& operator=(const StepThreads&) = delete;

  template <class F>
  void run(F&& step) {
    if (most_ <= 1) {  // not tuning: the caller's setting
      step();
      return;
    }
    const int want = phase_ == Phase::one ? 1 : phase_ == Phase::many ? most_ : best_;
    if (want != current_) {
      set_threads(want);
      current_ = want;
    }
    const auto t0 = Clock::now();
    step();
    const auto dt = Clock::now() - t0;
    ++count_;
    switch (phase_) {
      case Phase::one:
        one_ += dt;
        if (count_ == kProbe) next(Phase::many);
        break;
      case Phase::many:
        many_ += dt;
        if (many_ > one_) {
          choose(1);
        } else if (count_ == kProbe) {
          choose(most_);
        }
        break;
      case Phase::run:
        if (count_ >= run_len_) next(Phase::one);
        break;
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { one, many, run };
  static constexpr std::int64_t kProbe = 16, kRun = 256, kMaxRun = 1 << 15;

  void next(Phase p) {
    phase_ = p;
    count_ = 0;
    if (p == Phase::one) one_ = many_ = Clock::duration::zero();
  }
  void choose(int threads) {
    run_len_ = threads == best_ ? std::min(run_len_ * 2, kMaxRun) : kRun;
    best_ = threads;
    next(Phase::run);
  }

  int most_, saved_, current_ = 0, best_ = 1;
  Phase phase_ = Phase::one;
  std::int64_t count_ = 0, run_len_ = kRun;
  Clock::duration one_{}, many_{};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Seeds

PreparedSeed prepare_seed(std::string_view raw, const Vocab& vocab, UnknownUnits unknown,
                          std::string_view source) {
  PreparedSeed out;
  if (raw.empty()) return out;  // an empty seed is allowed; see empty_seed_unit()
  out.text = clean_text(raw, vocab.text_options(), source);
  EncodedUnits encoded = encode_units(out.text, vocab, unknown, source);
  out.ids = std::move(encoded.ids);
  out.unknown = std::move(encoded.unknown);
  out.unknown_count = encoded.unknown_count;
  return out;
}

std::int32_t empty_seed_unit(const Vocab& vocab) {
  if (auto id = vocab.find("\n")) return *id;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Sampler

Sampler::Sampler(Model& model, const Vocab& vocab) : model_(model), vocab_(vocab) {
  detail::check_vocab_fits(model, vocab);
}

void detail::check_vocab_fits(const Model& model, const Vocab& vocab) {
  if (model.vocab_size() != vocab.size())
    throw error("the model scores " + std::to_string(model.vocab_size()) +
                    " units but its vocabulary has " + std::to_string(vocab.size()),
                "the checkpoint is inconsistent; retrain or use another checkpoint");
}

Model::State detail::prime_streams(Model& model, const std::vector<std::int32_t>& prime,
                                   std::int64_t N, bool tune_threads, int most_threads,
                                   float* logits) {
  const std::int64_t H = model.hidden();
  Model::State state = model.zero_state(N);
  StepThreads threads(tune_threads, most_threads);
  Model::State one = model.zero_state(1);
  for (std::size_t i = 0; i + 1 < prime.size(); ++i)
    threads.run([&] { model.step(std::span<const std::int32_t>(&prime[i], 1), one, logits); });
  for (std::size_t l = 0; l < one.layers.size(); ++l) {
    const std::int64_t S = static_cast<std::int64_t>(one.layers[l].size()) / H;
    for (std::int64_t s = 0; s < S; ++s)    // one.layers[l]: (S, 1, H)
      for (std::int64_t n = 0; n < N; ++n)  // state.layers[l]: (S, N, H)
        std::copy_n(one.layers[l].begin() + s * H, H, state.layers[l].begin() + (s * N + n) * H);
  }
  return state;
}

namespace {

// N empty samples with room for options.length units, so the loop does not reallocate.
std::vector<Sample> empty_samples(std::int64_t N, const SampleOptions& options) {
  std::vector<Sample> samples(static_cast<std::size_t>(N));
  for (auto& s : samples) {
    s.ids.reserve(static_cast<std::size_t>(options.length));
    if (options.record_probabilities) {
      s.p.reserve(static_cast<std::size_t>(options.length));
      s.q.reserve(static_cast<std::size_t>(options.length));
    }
  }
  return samples;
}

// Adds the drawn unit to s; true when that completes s (the stop string, or the last unit).
bool append_unit(Sample& s, const Draw& d, const std::string& unit, const SampleOptions& options,
                 bool last) {
  s.ids.push_back(d.id);
  s.text += unit;
  if (options.record_probabilities) {
    s.p.push_back(d.p);
    s.q.push_back(d.q);
  }
  const bool stop = !options.stop.empty() && s.text.ends_with(options.stop);
  if (stop || last) s.stopped = stop;
  return stop || last;
}

}  // namespace

std::vector<Sample> Sampler::run(const PreparedSeed& seed, const SampleOptions& options,
                                 const SampleCallbacks& callbacks) {
  if (options.count < 1)
    throw error("--count " + std::to_string(options.count) + " is not allowed",
                "ask for at least 1 sample");
  if (options.length < 0)
    throw error("--length " + std::to_string(options.length) + " is not allowed",
                "ask for 0 or more units");
  const std::int64_t N = options.count;
  const std::int64_t V = vocab_.size();
  UnitPicker picker(options.policy, vocab_.size());
  if (options.precision) prepare_step_path(model_, *options.precision);
  std::vector<Rng> rngs;
  rngs.reserve(static_cast<std::size_t>(N));
  for (std::int64_t n = 0; n < N; ++n) rngs.emplace_back(options.random_seed, n);
  std::vector<Sample> samples = empty_samples(N, options);

  // An empty seed starts from the zero state with empty_seed_unit() as the first input.
  const std::vector<std::int32_t> fallback{empty_seed_unit(vocab_)};
  const std::vector<std::int32_t>& prime = seed.ids.empty() ? fallback : seed.ids;
  std::vector<float> logits(static_cast<std::size_t>(N * V));  // (N, V)
  const int most_threads = get_threads();
  Model::State state =
      detail::prime_streams(model_, prime, N, options.tune_threads, most_threads, logits.data());

  std::vector<std::int32_t> ids(static_cast<std::size_t>(N), prime.back());  // (N) next inputs
  std::vector<char> done(static_cast<std::size_t>(N), 0);
  std::vector<std::int64_t> finished;  // streams completed in this step
  finished.reserve(static_cast<std::size_t>(N));
  std::int64_t remaining = N;
  if (options.length == 0) {
    for (std::int64_t n = 0; n < N; ++n)
      if (callbacks.on_finished) callbacks.on_finished(n, samples[static_cast<std::size_t>(n)]);
    return samples;
  }
  StepThreads threads(options.tune_threads, most_threads);
  for (std::int64_t t = 0; t < options.length && remaining > 0; ++t) {
    // Finished streams keep stepping on their last unit (cheaper than reshaping the batch);
    // their output is ignored.
    threads.run([&] { model_.step(ids, state, logits.data()); });
    finished.clear();
    for (std::int64_t n = 0; n < N; ++n) {
      const auto k = static_cast<std::size_t>(n);
      if (done[k]) continue;
      const Draw d = picker.pick(
          std::span<const float>(logits.data() + n * V, static_cast<std::size_t>(V)), rngs[k]);
      ids[k] = d.id;
      const std::string& unit = vocab_.unit(d.id);
      const bool complete = append_unit(samples[k], d, unit, options, t + 1 == options.length);
      if (callbacks.on_unit) callbacks.on_unit(n, unit);
      if (complete) {
        done[k] = 1;
        --remaining;
        finished.push_back(n);
      }
    }
    if (callbacks.on_finished)
      for (std::int64_t n : finished)
        callbacks.on_finished(n, samples[static_cast<std::size_t>(n)]);
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

std::string unescape_cli(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    switch (text[++i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      default:  // not an escape we know: keep it as typed
        out += '\\';
        out += text[i];
    }
  }
  return out;
}

std::string sample_json(const Sample& sample, const Vocab& vocab) {
  FloatJson j;
  j["text"] = sample.text;
  j["stopped"] = sample.stopped;
  j["length"] = sample.ids.size();
  if (!sample.p.empty()) {
    FloatJson& units = j["units"] = FloatJson::array();
    for (std::size_t i = 0; i < sample.ids.size(); ++i) {
      FloatJson u;
      u["u"] = vocab.unit(sample.ids[i]);
      u["p"] = sample.p[i];
      u["q"] = sample.q[i];
      units.push_back(std::move(u));
    }
  }
  return json_text(j);
}

}  // namespace charnn
