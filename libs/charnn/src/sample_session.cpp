#include "charnn/sample_session.hpp"

#include "stream_priming.hpp"

#include <charnn/error.hpp>
#include <charnn/vocab.hpp>

#include <span>

namespace charnn {

SampleSession::SampleSession(Model& model, const Vocab& vocab, const SamplingPolicy& policy,
                             std::uint64_t random_seed)
    : model_(model),
      vocab_(vocab),
      picker_(policy, vocab.size()),
      rng_(random_seed, 0),
      state_(model.zero_state(1)),
      logits_(static_cast<std::size_t>(model.vocab_size())) {
  detail::check_vocab_fits(model, vocab);
}

void SampleSession::feed(std::int32_t id) {
  model_.step(std::span<const std::int32_t>(&id, 1), state_, logits_.data());
  started_ = true;
}

Sample SampleSession::turn(const PreparedSeed& text, std::int64_t length, const std::string& stop,
                           const std::function<void(std::string_view)>& on_unit) {
  if (length < 0)
    throw error("--length " + std::to_string(length) + " is not allowed", "ask for 0 or more units");
  for (const std::int32_t id : text.ids) feed(id);
  if (!started_) feed(empty_seed_unit(vocab_));
  Sample s;
  for (std::int64_t t = 0; t < length; ++t) {
    const Draw d = picker_.pick(logits_, rng_);
    const std::string& unit = vocab_.unit(d.id);
    s.ids.push_back(d.id);
    s.text += unit;
    if (on_unit) on_unit(unit);
    feed(d.id);
    if (!stop.empty() && s.text.ends_with(stop)) {
      s.stopped = true;
      break;
    }
  }
  return s;
}

}  // namespace charnn
