// The model's head: logits (M, V) = y (M, H) . out.w (H, V) + out.b (V), a softmax cross-entropy
// against the targets, and the gradients of both. Every pass that needs logits (training,
// validation, a sampling step, a trace chunk) runs them here. The oneDNN matmuls, their
// scratchpads and their argument lists are made once per row count M and reused, so a call
// allocates nothing after the first with its M (not part of the public API: oneDNN types).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

namespace charnn_cells {
class PreparedProduct;
}

namespace charnn::detail {

class OutputLayer {
 public:
  OutputLayer(std::int64_t H, std::int64_t V);
  ~OutputLayer();
  OutputLayer(const OutputLayer&) = delete;
  OutputLayer& operator=(const OutputLayer&) = delete;

  // logits (M, V) from y (M, H), with w (H, V) and b (V).
  void forward(const float* y, const float* w, const float* b, float* logits, std::int64_t M);

  // The same for one sampling step of M streams. A few rows take a cheaper route with the same
  // products (see the .cpp), so its results may differ from forward()'s in the last bit.
  void step(const float* y, const float* w, const float* b, float* logits, std::int64_t M);

  // Sampling: a bf16 copy of w (H, V) in oneDNN's fastest layout for step() with a few rows,
  // made when `bf16` asks for it, the CPU runs bf16 natively and the layer is large enough for
  // the bytes it streams per step to matter (over 2^18 weights: 512 units of 512). Returns
  // whether it was made.
  // release_step() drops it; the copy goes stale if w changes.
  bool prepare_step(const float* w, bool bf16);
  void release_step();
  bool step_prepared() const { return step_w_ != nullptr; }

  // Validation: the summed cross-entropy in nats of the M = targets.size() rows. logits (M, V)
  // is scratch (left holding unnormalised exps).
  double loss(const float* y, const float* w, const float* b, std::span<const std::int32_t> targets,
              float* logits);

  // Training in bf16 rounds the products' operands (y, out.w and dlogits) to bfloat16, as the
  // cells do; their sums, the softmax and every gradient written stay f32. Validation, sampling
  // and traces always run in f32.
  void set_train_bf16(bool bf16);

  // Training: returns the MEAN cross-entropy over the M rows and writes the gradients of it:
  // dw (H, V) = y^T dlogits (overwritten), db (V) += column sums of dlogits (the caller zeroes
  // it), dy (M, H) = dlogits w^T (overwritten). logits (M, V) ends holding dlogits.
  double train(const float* y, const float* w, const float* b,
               std::span<const std::int32_t> targets, float* logits, float* dw, float* db,
               float* dy);

 private:
  struct Shape;  // the matmuls and their arguments for one M
  Shape& shape(std::int64_t M, bool bf16);

  std::int64_t H_, V_;
  bool train_bf16_ = false;
  std::vector<std::uint16_t> w16_;  // out.w rounded to bf16, once per training step
  std::unique_ptr<charnn_cells::PreparedProduct> step_w_;  // prepare_step's copy
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm_{eng_};
  std::map<std::int64_t, std::unique_ptr<Shape>> shapes_, shapes_bf16_;  // by row count M
};

}  // namespace charnn::detail
