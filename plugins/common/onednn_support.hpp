// oneDNN helpers the built-in cells share: the engine, primitives with argument lists prepared
// once, host buffers wrapped without copying, sgemm for a few rows, CPU feature checks, and the
// mapping of oneDNN's exceptions to the plugin's status codes.
#pragma once

#include <charnn/plugin.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace charnn_cells {

using charnn::plugin::Error;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// oneDNN throws dnnl::error; at our boundary that is a backend failure, not an internal bug.
template <class F>
void backend_guard(const char* what, F&& body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    throw Error(CHARNN_ERR_BACKEND, std::string(what) + ": oneDNN: " + e.what());
  }
}

dnnl::engine& cpu_engine();

// A primitive with its argument list prepared once; host buffers are plugged in per call with
// set_data_handle, and execution goes through the C API so no argument map is built per call.
struct Prepared {
  dnnl::primitive prim;
  std::vector<dnnl_exec_arg_t> args;
  void add(int arg, const memory& m) { args.push_back({arg, m.get()}); }
  void run(dnnl::stream& s) const;
};

// A reorder from one memory object to another, as a Prepared.
void make_reorder(Prepared& r, const memory& from, const memory& to);

// A memory object that wraps a host buffer given per call (no storage of its own).
inline memory wrap(const memory::desc& md) {
  return memory(md, cpu_engine(), DNNL_MEMORY_NONE);
}
inline void bind(const memory& m, const float* p) {
  m.set_data_handle(const_cast<float*>(p));  // oneDNN takes void*; inputs are only read
}

// Y (N, M) += X (N, K) . W (K, M), all row-major, for a few rows N: the one-step sampling
// path, where the cost is streaming W from cache or memory once. oneDNN's sgemm was measured as
// fast as a hand-written AVX-512 loop here and twice as fast as the matmul primitive at N = 1
// (no primitive dispatch per call), so the plugins use it and keep all heavy math in oneDNN.
void small_gemm_acc(const float* x, const float* w, float* y, std::int64_t N, std::int64_t K,
                    std::int64_t M);

// Whether oneDNN runs bfloat16 matmuls natively here (AVX512_BF16 or newer). Without it oneDNN
// 2.6 has no fast bf16 matmul (it emulates it, slower than f32), so the cells refuse bf16.
bool has_native_bf16();
// Whether oneDNN has its fast int8 matmul here (AVX512 VNNI); the prepared path refuses
// CHARNN_PRECISION_INT8 otherwise.
bool has_native_int8();
// Throws CHARNN_ERR_UNSUPPORTED, naming the caller, when bf16 is not native here.
void require_native_bf16(const char* what);

}  // namespace charnn_cells
