// See onednn_support.hpp.
#include "onednn_support.hpp"

namespace charnn_cells {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

void Prepared::run(dnnl::stream& s) const {
  dnnl::error::wrap_c_api(
      dnnl_primitive_execute(prim.get(), s.get(), static_cast<int>(args.size()), args.data()),
      "could not execute a primitive");
}

void make_reorder(Prepared& r, const memory& from, const memory& to) {
  r.prim = dnnl::reorder(from, to);
  r.add(DNNL_ARG_FROM, from);
  r.add(DNNL_ARG_TO, to);
}

void small_gemm_acc(const float* x, const float* w, float* y, std::int64_t N, std::int64_t K,
                    std::int64_t M) {
  const dnnl_status_t st = dnnl_sgemm('N', 'N', N, M, K, 1.0f, x, K, w, M, 1.0f, y, M);
  if (st != dnnl_success)
    throw Error(CHARNN_ERR_BACKEND, "oneDNN sgemm failed with status " + std::to_string(st));
}

namespace {
bool has_isa(dnnl::cpu_isa need_isa) {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto need = static_cast<unsigned>(need_isa);
  return (isa & need) == need;
}
}  // namespace

bool has_native_bf16() {
  return has_isa(dnnl::cpu_isa::avx512_core_bf16);
}
bool has_native_int8() {
  return has_isa(dnnl::cpu_isa::avx512_core_vnni);
}

void require_native_bf16(const char* what) {
  if (!has_native_bf16())
    throw Error(CHARNN_ERR_UNSUPPORTED,
                std::string(what) + ": this CPU has no native bfloat16 support (AVX512_BF16)");
}

}  // namespace charnn_cells
