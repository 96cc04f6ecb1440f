// One matrix product of the prepared one-step path (plugin ABI 1.1, prepare_step), for
// sampling: out (N, M) += v (N, K) . W (K, M), where W is a block of the host's f32 rows copied
// once into the layout oneDNN's matmul picks for it (format_tag::any, a blocked layout its
// brgemm kernels stream fastest), optionally rounded to bfloat16 or quantised to int8. That
// cuts the bytes read per step: the one-stream step is bound by streaming the weights from
// cache. See bench/RESULTS.md, "prepared one-step path".
//
// v is assembled per stream from pieces (x alone, h alone, or [x, h]). int8 quantises each
// stream's v with one scale, max |v| / 127, and W with one scale per column, max |W[:, j]| / 127.
// The cells build their steps from these: the LSTM and Elman (prepared_step.hpp) from [x, h] .
// [w_x; w_h], the GRU from x . w_x and h . w_h kept apart (its reset gate scales the second).
#pragma once

#include <charnn/onednn_compat.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "onednn_support.hpp"

namespace charnn_cells {

// The oneDNN type of the prepared weights for a precision; throws CHARNN_ERR_UNSUPPORTED, naming
// the caller, where this CPU does not run it natively.
dt prepared_type(charnn_precision precision, const char* what);

class PreparedProduct {
 public:
  // W is (rows, columns).
  PreparedProduct(std::int64_t rows, std::int64_t columns);

  // Drops any prepared copy, then (w not NULL) remembers w, (rows, columns) row-major, to be
  // copied in type `type` on the first add_to of each stream count. int8 refuses a non-finite
  // weight (it has no scale; f32 and bf16 carry it to the output), naming `name`.
  void prepare(const float* w, dt type, const char* name);

  // Stream n's part of v: data + n * width, width values.
  struct Piece {
    const float* data;
    std::int64_t width;
  };
  // out (N, columns) += v . W, the pieces' widths adding up to rows. Under int8 the rows of
  // streams whose input is not finite become NaN (as in f32) instead of quantised garbage.
  void add_to(std::int64_t N, std::initializer_list<Piece> v, float* out);

 private:
  struct Plan {
    Prepared mm;                // the matmul on the prepared weights
    memory src;                 // (N, K) in the prepared type, owned
    memory dst;                 // (N, M) f32: out (post-op sum) or, for int8, acc
    std::shared_ptr<memory> w;  // (K, M) prepared weights, shared by plans of one layout
    std::vector<charnn::onednn::ExecArg> scale_args;  // int8 on oneDNN 3: the column scales
    // int8 only: the matmul writes w_scale[j] * (v_q . w_q)[j] into acc, and out += v_scale[n]
    // * acc (no sum post-op: oneDNN 2.6 would scale the sum too).
    std::vector<float> acc;      // (N, M)
    std::vector<float> v_scale;  // (N) this step's input scale per stream
  };

  Plan& plan(std::int64_t N);
  dnnl::primitive_attr plan_attr(Plan& pp, std::int64_t N, std::vector<std::int8_t>& w_q) const;
  void load_weights(Plan& pp, const memory::desc& w_md, const std::vector<std::int8_t>& w_q);
  void put(const Plan& pp, std::int64_t n, std::int64_t col, const float* from,
           std::int64_t width) const;

  const std::int64_t K_, M_;
  dnnl::stream stream_;
  // By (N, OpenMP threads): oneDNN fixes a matmul's split over threads when it is created, so a
  // host that switches the thread count between steps (the sampler's tuning) gets a matmul made
  // for each count.
  std::map<std::pair<std::int64_t, int>, std::unique_ptr<Plan>> plans_;
  const float* w_ = nullptr;  // the host's rows (NULL: nothing prepared)
  dt type_ = dt::f32;
  // The prepared copies by layout (one per oneDNN weights format).
  std::vector<std::pair<memory::desc, std::shared_ptr<memory>>> weights_;
};

}  // namespace charnn_cells
