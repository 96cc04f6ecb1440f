// The trainer's part in a job of several ranks (ranks.hpp): the root's start sent to the
// others, each rank's share of the streams, the gradients summed at every step, the weights
// checked and shared, and the carried state gathered for the root's checkpoints. With one rank
// these are a few copies and no messages.
#include "trainer_impl.hpp"

#include "train_banner.hpp"

#include <charnn/checksum.hpp>
#include <charnn/error.hpp>

#include <array>
#include <csignal>
#include <map>
#include <utility>

namespace charnn::detail {

namespace {

// This rank's layers of the carried state, back to back.
std::vector<float> flat(const Model::State& state) {
  std::vector<float> v;
  for (const auto& layer : state.layers) v.insert(v.end(), layer.begin(), layer.end());
  return v;
}

}  // namespace

// After the root's set-up: the root sends its start (the run as a checkpoint, and the encoded
// corpus); the others continue from it as a resume would. Then each rank keeps its share.
void Trainer::share_start() {
  share_ = stream_share(config_.batch, ranks_.rank(), ranks_.size());
  if (ranks_.size() == 1) return;
  std::string start;
  if (ranks_.root()) start = checkpoint_bytes(checkpoint(flat(carried_)));
  ranks_.broadcast(start);
  ranks_.broadcast(ids_);
  if (!ranks_.root()) join_root(start);
  // From (S_l, N, H) to this rank's (S_l, n, H).
  const std::int64_t H = config_.hidden, N = share_.total, n = share_.count;
  Model::State mine = model_->zero_state(n);
  for (std::size_t l = 0; l < mine.layers.size(); ++l) {
    const auto S =
        static_cast<std::int64_t>(model_->layer(static_cast<std::int32_t>(l)).states().size());
    for (std::int64_t k = 0; k < S; ++k)
      std::copy_n(carried_.layers[l].begin() + (k * N + share_.first) * H, n * H,
                  mine.layers[l].begin() + k * n * H);
  }
  carried_ = std::move(mine);
  const std::size_t T = static_cast<std::size_t>(config_.seq_len);
  batch_inputs_.assign(T * static_cast<std::size_t>(N), 0);
  batch_targets_.assign(batch_inputs_.size(), 0);
}

void Trainer::fill_share(DataPosition at, std::vector<std::int32_t>& inputs,
                         std::vector<std::int32_t>& targets) {
  const std::int64_t T = config_.seq_len, N = share_.total, n = share_.count;
  inputs.resize(static_cast<std::size_t>(T * n));
  targets.resize(inputs.size());
  if (ranks_.size() == 1) {
    batches_->fill(at, inputs.data(), targets.data());
    return;
  }
  batches_->fill(at, batch_inputs_.data(), batch_targets_.data());
  for (std::int64_t t = 0; t < T; ++t) {
    std::copy_n(batch_inputs_.begin() + t * N + share_.first, n, inputs.begin() + t * n);
    std::copy_n(batch_targets_.begin() + t * N + share_.first, n, targets.begin() + t * n);
  }
}

// A rank other than the root: the run the root set up, from its bytes and the corpus it sent.
void Trainer::join_root(const std::string& start) {
  resume_data_ = parse_checkpoint(start, "the root rank's start");
  std::map<std::string, std::string> keys;
  for (const auto& [k, v] : resume_data_.header)
    if (k.rfind("config.", 0) == 0) keys[k.substr(7)] = v;
  const int threads = config_.threads;
  config_ = config_from_keys(keys, resume_data_.file);
  config_.threads = threads;
  resuming_ = true;
  vocab_ = resume_data_.vocab;
  split_ = split_corpus(ids_, config_.split);
  fingerprint_ = fnv1a64(split_.train.data(), split_.train.size_bytes());
  if (resume_data_.get_string("corpus.fingerprint") != hex64(fingerprint_))
    throw error("rank " + std::to_string(ranks_.rank()) +
                ": the corpus received from the root does not match its fingerprint");
  build_model();
  restore_from_checkpoint();
}

// Each rank's mean loss and gradient over its share, weighted by the share's streams and summed:
// the batch's. The same call agrees on the root's clock, on its validation speed (end_seconds)
// and on a stop signal any rank received, so that every rank takes the same decisions from here.
double Trainer::combine_ranks(double loss) {
  const double weight = static_cast<double>(share_.count) / static_cast<double>(share_.total);
  const auto grads = model_->grads();
  const float w = static_cast<float>(weight);
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < grads.size(); ++i) grads[i] *= w;
  ranks_.sum(grads);
  const int sig = hooks_.watch_signals ? pending_stop_signal() : 0;
  std::array<double, 5> agreed{loss * weight, ranks_.root() ? session_seconds() : 0.0,
                               sig == SIGINT ? 1.0 : 0.0, sig == SIGTERM ? 1.0 : 0.0,
                               ranks_.root() ? measured_spu_ : 0.0};
  ranks_.sum(agreed);
  root_seconds_ = agreed[1];
  eval_spu_ = agreed[4];
  agreed_signal_ = agreed[3] > 0 ? SIGTERM : agreed[2] > 0 ? SIGINT : 0;
  return agreed[0];
}

// After the root changed its weights alone (a rollback reads best.ckpt): the same everywhere.
void Trainer::share_weights() {
  if (ranks_.size() == 1) return;
  const auto send = [&](std::span<float> v) { ranks_.broadcast(v.data(), v.size_bytes()); };
  send(model_->params());
  send(optimizer_->state());
  if (average_) send(average_->values());
  std::array<std::int64_t, 2> facts{optimizer_->steps(), state_.average_chosen};
  ranks_.broadcast(facts.data(), sizeof facts);
  optimizer_->set_steps(facts[0]);
  state_.average_chosen = facts[1];
}

// Every rank applies the same summed gradient to the same weights, so they stay identical; a
// difference means a broken rank or network, and training on would mix models. Checked at every
// validation: a hash per rank, one broadcast and one sum.
void Trainer::check_same_weights() {
  if (ranks_.size() == 1) return;
  const auto params = std::as_const(*model_).params();
  const std::uint64_t mine = checksum64(params.data(), params.size_bytes());
  std::uint64_t root = mine;
  ranks_.broadcast(&root, sizeof root);
  std::array<double, 1> differ{mine == root ? 0.0 : 1.0};
  ranks_.sum(differ);
  if (differ[0] == 0) return;
  throw error("the ranks' parameters differ at iteration " + std::to_string(state_.iteration) +
                  " (" + fixed(differ[0], 0) + " of " + std::to_string(ranks_.size()) +
                  " ranks differ from the root): they no longer train one model",
              "resume from the last checkpoint (charnn train " + option_name("resume") + " " +
                  run_dir_.string() +
                  "); if it happens again, run the ranks on one machine to "
                  "find the faulty one");
}

// The carried state of all N streams, layer by layer (S_l, N, H), on the root (the others get
// nothing): each rank's share is gathered and put back in its place.
std::vector<float> Trainer::whole_state() {
  std::vector<float> mine = flat(carried_);
  if (ranks_.size() == 1) return mine;
  const std::vector<float> all = ranks_.gather(mine);
  if (!ranks_.root()) return {};
  const std::int64_t H = config_.hidden, N = share_.total;
  std::vector<std::int64_t> states;  // S_l
  for (std::int32_t l = 0; l < model_->num_layers(); ++l)
    states.push_back(static_cast<std::int64_t>(model_->layer(l).states().size()));
  std::vector<float> whole(mine.size() / static_cast<std::size_t>(share_.count) *
                           static_cast<std::size_t>(N));
  auto from = all.begin();
  for (int r = 0; r < ranks_.size(); ++r) {
    const StreamShare theirs = stream_share(N, r, ranks_.size());
    std::int64_t layer_at = 0;
    for (const std::int64_t S : states) {
      for (std::int64_t k = 0; k < S; ++k) {
        std::copy_n(from, theirs.count * H, whole.begin() + layer_at + (k * N + theirs.first) * H);
        from += theirs.count * H;
      }
      layer_at += S * N * H;
    }
  }
  return whole;
}

}  // namespace charnn::detail
