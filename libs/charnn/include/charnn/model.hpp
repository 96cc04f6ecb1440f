// The network: one-hot input -> a stack of cell layers (each a plugin, types may be mixed) ->
// inverted dropout between layers and before the output -> linear -> softmax cross-entropy.
//
// Every parameter lives in ONE flat buffer with named views (each layer's cell tensors, then
// out.w and out.b), and the gradients in a parallel flat buffer, so the optimiser, clipping,
// checkpoints and gradient checks are one loop over a span. oneDNN primitives for the output
// layer are created once per row count and cached; the training step allocates nothing after
// its first call with a given (T, N).
#pragma once

#include <charnn/cell.hpp>
#include <charnn/precision.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace charnn {

class PluginRegistry;
namespace detail {
struct SequenceBuffers;  // model.cpp: the buffers of one (T, N) training or evaluation pass
}

// Where a training step's N streams sit in the whole batch when ranks share it (ranks.hpp).
struct BatchStreams {
  std::int64_t first = 0;  // the first of these streams in the batch
  std::int64_t total = 0;  // streams in the batch; 0 = all of them are these N
};

// Which units dropout silences: new ones at every step, or the same ones through a stream's
// whole segment (variational or "locked" dropout, Gal and Ghahramani 2016): a unit is then gone
// for all T steps, so the layer above cannot recover it from the steps around.
enum class DropoutMask : std::int32_t { step, segment };
DropoutMask parse_dropout_mask(std::string_view name);  // "step" | "segment"
std::string to_string(DropoutMask m);

struct ModelConfig {
  std::vector<std::string> cells;  // cell plugin name per layer, e.g. {"lstm","lstm"}
  std::int64_t hidden = 512;       // H of every layer
  std::int32_t vocab_size = 0;     // V: one-hot input width of layer 0 and softmax width
  float dropout = 0.0f;            // training only: between layers and before the output layer
  DropoutMask dropout_mask = DropoutMask::step;
  // Training only: DropConnect on every layer's recurrent weights (the tensor named "w_h"), each
  // weight zeroed with this probability and the rest scaled by 1/(1-p), one mask per training
  // step shared by all streams and steps (Wan et al. 2013; Merity et al. 2017's weight-dropped
  // LSTM). Other tensors are untouched; a cell without a "w_h" refuses it.
  float weight_drop = 0.0f;
};

// The tensor weight drop masks in each cell, and whether `cell` names one: a model whose cells
// do not all name it cannot be trained with weight drop (the plan then chooses none).
inline constexpr std::string_view kRecurrentWeights = "w_h";
bool names_recurrent_weights(const Cell& cell);

// A named slice of the flat parameter (or gradient) buffer.
struct ParamView {
  std::string name;                // "layer0.lstm.w_x", ..., "out.w", "out.b"
  std::int64_t offset = 0;         // in floats from the start of the flat buffer
  std::int64_t size = 0;           // floats
  std::vector<std::int64_t> dims;  // row-major shape (cell tensors: as the plugin declares)
};

class Model {
 public:
  Model(ModelConfig config, const PluginRegistry& plugins);  // layer 0 has I = V, others I = H
  // The floats in the flat buffer such a model would hold, found without allocating it: a file
  // can then be checked against a size it claims before that size is trusted.
  static std::int64_t param_count(const ModelConfig& config, const PluginRegistry& plugins);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  std::int32_t num_layers() const { return static_cast<std::int32_t>(layers_.size()); }
  const Cell& layer(std::int32_t l) const { return layers_.at(static_cast<std::size_t>(l)); }
  std::int64_t hidden() const { return config_.hidden; }
  std::int32_t vocab_size() const { return config_.vocab_size; }

  // ONE flat buffer holding every parameter. The mutable view drops a prepared sampling path
  // (prepare_inference), since the caller may now change the weights.
  std::span<float> params() {
    if (!prepared_.empty()) release_inference();
    return params_;
  }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }  // parallel to params(), filled by train_step
  std::span<const float> grads() const { return grads_; }
  const std::vector<ParamView>& views() const { return views_; }
  const ParamView& view(const std::string& name) const;  // throws charnn::error when unknown

  // Fills the parameters for training: each cell's own init (e.g. forget-gate bias 1 for an
  // LSTM), out.w ~ U(-1/sqrt(H), 1/sqrt(H)), out.b = 0. Deterministic in seed.
  void init_params(std::uint64_t seed);

  // Recurrent state for N streams: layers[l] holds (S_l, N, H) floats, S_l =
  // layer(l).states().size().
  struct State {
    std::int64_t N = 0;
    std::vector<std::vector<float>> layers;
  };
  State zero_state(std::int64_t N) const;

  // Training on one segment of N streams x T steps (truncated BPTT).
  //   inputs, targets: (T, N) time-major ids; targets[t][n] is the unit after inputs[t][n].
  //   state: in = the state carried from the previous segment, out = the state after it.
  //   dropout_seed: the dropout masks (and weight_drop's) are a pure function of it, so a resumed
  //   run draws the same masks (the trainer derives it from the run seed and the iteration).
  //   streams: where these N streams sit in the whole batch when ranks share it (ranks.hpp): the
  //   masks follow each stream's place in the batch, so K ranks draw the masks one process would.
  //   The default ({0, 0}) is the whole batch.
  // Overwrites grads() with d(mean loss)/d(params). Returns the mean cross-entropy in nats per
  // unit (may be NaN/Inf if training diverged; the caller checks).
  using Streams = BatchStreams;
  double train_step(std::span<const std::int32_t> inputs, std::span<const std::int32_t> targets,
                    std::int64_t T, State& state, std::uint64_t dropout_seed, Streams streams = {});

  // Forward only, no dropout, same layout as train_step. Returns the SUM of nats over all T*N
  // units; state is carried. Used for validation and `charnn eval`.
  double evaluate(std::span<const std::int32_t> inputs, std::span<const std::int32_t> targets,
                  std::int64_t T, State& state);

  // Arithmetic of train_step's cell layers (plugin ABI 1.1, set_train_precision): bf16 rounds
  // the recurrent matrix products' inputs to bfloat16 (float32 accumulation; weights, gradients
  // and states stay float32). automatic asks for bf16 as well, since the plugins refuse it where
  // oneDNN does not run it natively. A layer whose plugin refuses keeps float32; so do
  // evaluate(), step() and trace(). Returns a summary for logs, e.g. "bf16" or "bf16 (1 of 2
  // layers; others f32)".
  std::string set_train_precision(StepPrecision precision);

  // Sampling: one step for N streams. ids (N) -> logits (N, V), state updated in place.
  // Uses each cell's cheap step() path; no allocation after the first call with a given N.
  void step(std::span<const std::int32_t> ids, State& state, float* logits);

  // Sampling speed: asks every layer's plugin to keep a prepared copy of its weights (reordered
  // for oneDNN's matmul, in `precision`: f32, bf16 or int8) that step() then uses. Prepare once,
  // after the weights are final (e.g. after loading a checkpoint): the copy stays valid only while
  // the parameters do not change, so the non-const params() and init_params() drop it, and a span
  // obtained from params() earlier must not be written while it is prepared. A layer whose plugin
  // lacks the call (plugin ABI 1.0) or the precision keeps the plain path (int8 falls back to a
  // prepared bf16 copy, bf16 to f32, before that). Returns a summary for logs, e.g. "bf16" or "f32
  // (1 of 2 layers; others plain)". Not for training: evaluate(), train_step() and trace() never
  // use the copy. Which precision to ask for is the caller's policy: automatic is an error here;
  // prepare_step_path (step_precision.hpp) resolves it.
  std::string prepare_inference(StepPrecision precision);
  void release_inference();  // back to the plain path; frees the copies
  // Whether prepare_inference also gave the output layer a bf16 copy: it does for a rounded
  // precision (bf16, int8) where the layer is large (over 2^18 weights) and the CPU runs bf16.
  bool output_step_bf16() const;

  // Inspection's pass over N streams: ids (T, N) time-major, state carried (N = state.N), no
  // dropout. Returns every layer's signals, each (T, N, H) in layer(l).signals() order, and the
  // logits (T, N, V) (row (t, n) predicts the unit after ids[t][n]), valid until the next call.
  // With signals = false only the logits (signals[l] empty): the cells run their forward pass,
  // as in evaluate(), which takes layer 0's input by index where the trace needs it dense.
  // trace.hpp runs it over a whole text.
  struct TraceOutput {
    std::vector<std::vector<std::span<const float>>> signals;  // [l][k]
    std::span<const float> logits;
  };
  const TraceOutput& trace(std::span<const std::int32_t> ids, std::int64_t T, State& state,
                           bool signals = true);
  // The same pass for the state alone (no signals, no output layer): a trace's warm-ups.
  void advance(std::span<const std::int32_t> ids, std::int64_t T, State& state);

 private:
  struct Impl;  // oneDNN objects and scratch buffers
  void check_state(const State& state, const char* what) const;
  // The cell stack over one segment (inputs (T, N) ids, state carried), with dropout when
  // training; returns the output layer's input (T*N, H), which lives in s. logits: whether s
  // needs room for an output layer's (T*N, V) logits.
  const float* forward_layers(detail::SequenceBuffers& s, std::span<const std::int32_t> inputs,
                              State& state, std::int64_t T, bool training,
                              std::uint64_t dropout_seed, bool logits = true, Streams streams = {});
  // Back through the stack from s.ddst = d loss / d (output layer's input), into grads().
  void backward_layers(detail::SequenceBuffers& s, std::int64_t T, std::int64_t N);

  ModelConfig config_;
  std::vector<Cell> layers_;
  std::vector<std::int64_t> layer_offset_;  // start of each layer's params in the flat buffer
  std::int64_t out_w_offset_ = 0;           // out.w (H, V)
  std::int64_t out_b_offset_ = 0;           // out.b (V)
  std::vector<float> params_;               // (P) every parameter
  std::vector<float> grads_;                // (P) parallel to params_
  std::vector<ParamView> views_;
  std::vector<StepPrecision> prepared_;  // per layer, after prepare_inference (automatic: plain)
  std::vector<std::size_t> recurrent_view_;  // with weight_drop: per layer, its w_h in views_
  std::unique_ptr<Impl> impl_;
};

}  // namespace charnn
