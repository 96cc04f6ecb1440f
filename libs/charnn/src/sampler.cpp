// Sampling: the policy, the PRNG, picking a unit from logits, preparing the seed, and the
// generation loop over parallel streams.
#include "charnn/sampler.hpp"

#include "charnn/error.hpp"
#include "charnn/json.hpp"
#include "charnn/model.hpp"
#include "charnn/text.hpp"
#include "charnn/threads.hpp"
#include "charnn/vocab.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace charnn {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

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

std::string format_float(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Rng

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  // Hash the stream index first so that neighbouring (seed, stream) pairs do not give
  // neighbouring splitmix64 sequences; splitmix64 then spreads the seed over the 256-bit state.
  std::uint64_t h = stream;
  std::uint64_t x = seed ^ splitmix64(h);
  for (auto& s : s_) s = splitmix64(x);
}

Rng::Rng(const std::array<std::uint64_t, 4>& state) {
  std::copy(state.begin(), state.end(), s_);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

// ---------------------------------------------------------------------------------------------
// SamplingPolicy

void SamplingPolicy::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f)
    throw error("temperature " + format_float(temperature) + " is not allowed",
                "use a temperature >= 0: 1 samples from the model as trained, lower values are "
                "more conservative, 0 means greedy (always the most probable unit)");
  if (top_k && *top_k < 1)
    throw error("top-k " + std::to_string(*top_k) + " is not allowed",
                "use a top-k of at least 1 (1 is greedy), or leave it out to keep every unit");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    throw error("top-p " + format_float(top_p) + " is outside (0, 1]",
                "use a top-p greater than 0 and at most 1, e.g. 0.9 (1 keeps every unit)");
}

std::string SamplingPolicy::describe() const {
  if (is_greedy()) return "greedy";
  std::string s = "temperature " + format_float(temperature);
  if (top_k) s += ", top-k " + std::to_string(*top_k);
  if (top_p < 1.0f) s += ", top-p " + format_float(top_p);
  return s;
}

// ---------------------------------------------------------------------------------------------
// UnitPicker

UnitPicker::UnitPicker(const SamplingPolicy& policy, std::int32_t vocab_size)
    : policy_(policy), vocab_size_(vocab_size) {
  policy_.validate();
  if (vocab_size < 1) throw error("cannot sample from an empty vocabulary");
  truncate_ = !policy_.is_greedy() &&
              ((policy_.top_k && *policy_.top_k < vocab_size) || policy_.top_p < 1.0f);
  p_.resize(static_cast<std::size_t>(vocab_size));
  w_.resize(static_cast<std::size_t>(vocab_size));
  order_.resize(static_cast<std::size_t>(vocab_size));
}

std::int32_t UnitPicker::prepare(std::span<const float> logits, double* mass) {
  if (static_cast<std::int64_t>(logits.size()) != vocab_size_)
    throw error("internal: " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                std::to_string(vocab_size_));
  const std::int32_t V = vocab_size_;
  std::int32_t arg = 0;
  float m = logits[0];
  for (std::int32_t i = 0; i < V; ++i) {
    const float x = logits[static_cast<std::size_t>(i)];
    if (!std::isfinite(x))
      throw error("the model produced a non-finite score (" + format_float(x) + ") for unit " +
                      std::to_string(i),
                  "the checkpoint may be damaged or the training diverged; try the run's other "
                  "checkpoint (--best / --last)");
    if (x > m) m = x, arg = i;
  }
  // Model probabilities (temperature 1), stable: exp(l - max) <= 1, the sum is >= 1.
  double sum = 0.0;
  for (std::int32_t i = 0; i < V; ++i) {
    const auto k = static_cast<std::size_t>(i);
    w_[k] = std::exp(logits[k] - m);  // the policy weights too, when the temperature is 1
    sum += w_[k];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (std::int32_t i = 0; i < V; ++i)
    p_[static_cast<std::size_t>(i)] = w_[static_cast<std::size_t>(i)] * inv;

  if (policy_.is_greedy()) {
    order_[0] = arg;
    kept_ = 1;
    w_[static_cast<std::size_t>(arg)] = 1.0f;
    *mass = 1.0;
    return arg;
  }
  // Policy weights. Dividing (not multiplying by 1/T) keeps the maximum at exactly exp(0) = 1
  // even for a temperature so small that 1/T would overflow: then every other weight is 0.
  const float T = policy_.temperature;
  if (T != 1.0f)
    for (std::int32_t i = 0; i < V; ++i) {
      const auto k = static_cast<std::size_t>(i);
      w_[k] = std::exp((logits[k] - m) / T);
    }
  if (!truncate_) {
    kept_ = V;
    double total = 0.0;
    for (float w : w_) total += w;
    *mass = total;
    return arg;
  }
  // Most probable first; equal scores in id order, so the kept set and its order are unique
  // (the same on every standard library).
  std::iota(order_.begin(), order_.end(), 0);
  const std::int32_t k = policy_.top_k ? std::min(*policy_.top_k, V) : V;
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                    [&](std::int32_t a, std::int32_t b) {
                      const float la = logits[static_cast<std::size_t>(a)];
                      const float lb = logits[static_cast<std::size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  double total = 0.0;
  for (std::int32_t j = 0; j < k; ++j) total += w_[static_cast<std::size_t>(order_[j])];
  kept_ = k;
  if (policy_.top_p < 1.0f) {
    // Nucleus: the shortest prefix whose share of the (top-k) mass reaches p.
    const double threshold = static_cast<double>(policy_.top_p) * total;
    double cum = 0.0;
    for (std::int32_t j = 0; j < k; ++j) {
      cum += w_[static_cast<std::size_t>(order_[j])];
      if (cum >= threshold) {
        kept_ = j + 1;
        total = cum;
        break;
      }
    }
  }
  *mass = total;
  return arg;
}

Draw UnitPicker::pick(std::span<const float> logits, Rng& rng) {
  double mass = 0.0;
  const std::int32_t arg = prepare(logits, &mass);
  if (policy_.is_greedy()) return {arg, p_[static_cast<std::size_t>(arg)], 1.0f};

  const double u = rng.uniform() * mass;
  double cum = 0.0;
  std::int32_t chosen = -1, last_positive = arg;
  for (std::int32_t j = 0; j < kept_; ++j) {
    const std::int32_t id = truncate_ ? order_[static_cast<std::size_t>(j)] : j;
    const float w = w_[static_cast<std::size_t>(id)];
    if (w <= 0.0f) continue;
    last_positive = id;
    cum += w;
    if (cum > u) {
      chosen = id;
      break;
    }
  }
  // Rounding can leave u just above the final sum: the last unit with weight takes it.
  if (chosen < 0) chosen = last_positive;
  const auto c = static_cast<std::size_t>(chosen);
  return {chosen, p_[c], static_cast<float>(w_[c] / mass)};
}

void UnitPicker::distribution(std::span<const float> logits, std::span<float> out) {
  double mass = 0.0;
  prepare(logits, &mass);
  std::fill(out.begin(), out.end(), 0.0f);
  for (std::int32_t j = 0; j < kept_; ++j) {
    const std::int32_t id =
        truncate_ || policy_.is_greedy() ? order_[static_cast<std::size_t>(j)] : j;
    out[static_cast<std::size_t>(id)] = static_cast<float>(w_[static_cast<std::size_t>(id)] / mass);
  }
}

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
  if (model.vocab_size() != vocab.size())
    throw error("the model scores " + std::to_string(model.vocab_size()) +
                    " units but its vocabulary has " + std::to_string(vocab.size()),
                "the checkpoint is inconsistent; retrain or use another checkpoint");
}

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
  const std::int64_t H = model_.hidden();
  UnitPicker picker(options.policy, vocab_.size());
  if (options.precision) model_.prepare_inference(*options.precision);
  std::vector<Rng> rngs;
  rngs.reserve(static_cast<std::size_t>(N));
  for (std::int64_t n = 0; n < N; ++n) rngs.emplace_back(options.random_seed, n);

  std::vector<Sample> samples(static_cast<std::size_t>(N));
  for (auto& s : samples) {
    s.ids.reserve(static_cast<std::size_t>(options.length));
    if (options.record_probabilities) {
      s.p.reserve(static_cast<std::size_t>(options.length));
      s.q.reserve(static_cast<std::size_t>(options.length));
    }
  }

  // Priming: every stream continues the same seed, so run it once (N = 1) and copy the state.
  // All seed units but the last only move the state; the last is each stream's first input.
  // An empty seed starts from the zero state with empty_seed_unit() as the first input.
  const std::vector<std::int32_t> fallback{empty_seed_unit(vocab_)};
  const std::vector<std::int32_t>& prime = seed.ids.empty() ? fallback : seed.ids;
  std::vector<float> logits(static_cast<std::size_t>(N * V));  // (N, V)
  Model::State state = model_.zero_state(N);
  const int most_threads = get_threads();
  {
    StepThreads threads(options.tune_threads, most_threads);
    Model::State one = model_.zero_state(1);
    for (std::size_t i = 0; i + 1 < prime.size(); ++i)
      threads.run(
          [&] { model_.step(std::span<const std::int32_t>(&prime[i], 1), one, logits.data()); });
    for (std::size_t l = 0; l < one.layers.size(); ++l) {
      const std::int64_t S = static_cast<std::int64_t>(one.layers[l].size()) / H;
      for (std::int64_t s = 0; s < S; ++s)    // one.layers[l]: (S, 1, H)
        for (std::int64_t n = 0; n < N; ++n)  // state.layers[l]: (S, N, H)
          std::copy_n(one.layers[l].begin() + s * H, H, state.layers[l].begin() + (s * N + n) * H);
    }
  }

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
      Sample& s = samples[k];
      const std::string& unit = vocab_.unit(d.id);
      s.ids.push_back(d.id);
      s.text += unit;
      if (options.record_probabilities) {
        s.p.push_back(d.p);
        s.q.push_back(d.q);
      }
      if (callbacks.on_unit) callbacks.on_unit(n, unit);
      const bool stop = !options.stop.empty() && s.text.ends_with(options.stop);
      if (stop || t + 1 == options.length) {
        s.stopped = stop;
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
