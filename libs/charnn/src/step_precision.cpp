// The sampling precision policy: plugins are asked what they offer, and int8 is measured
// against float32 on a probe text before it is kept.
#include "charnn/step_precision.hpp"

#include "charnn/model.hpp"
#include "charnn/random.hpp"
#include "charnn/unit_picker.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

namespace charnn {

namespace {

// Text the plain float32 model writes itself, with its own predictions along the way.
struct Probe {
  std::vector<std::int32_t> ids;  // (P + 1): the inputs; unit 0 starts it
  std::vector<double> log_p;      // (P, V): log-probabilities of the next unit after ids[k]
};

// log softmax of one row of logits, in double.
void log_softmax(const float* logits, std::int64_t V, double* out) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t v = 0; v < V; ++v) m = std::max(m, double(logits[v]));
  double z = 0;
  for (std::int64_t v = 0; v < V; ++v) z += std::exp(double(logits[v]) - m);
  const double lz = m + std::log(z);
  for (std::int64_t v = 0; v < V; ++v) out[v] = double(logits[v]) - lz;
}

// Samples int8_probe_units units from the model's current step path at temperature 1 with a
// fixed seed, so the same model always gets the same probe.
Probe write_probe(Model& model) {
  const std::int64_t V = model.vocab_size(), P = int8_probe_units;
  Probe probe;
  probe.ids.push_back(0);
  probe.log_p.resize(static_cast<std::size_t>(P * V));
  std::vector<float> logits(static_cast<std::size_t>(V));  // (V)
  Model::State st = model.zero_state(1);
  Rng rng(0x7072'6f62'65ull);
  UnitPicker picker(SamplingPolicy{}, static_cast<std::int32_t>(V));  // temperature 1
  for (std::int64_t k = 0; k < P; ++k) {
    model.step({&probe.ids.back(), 1}, st, logits.data());
    log_softmax(logits.data(), V, probe.log_p.data() + k * V);
    probe.ids.push_back(picker.pick(logits, rng).id);
  }
  return probe;
}

// Mean KL divergence (nats per unit) of the current step path's predictions from the probe's.
double divergence(Model& model, const Probe& probe) {
  const std::int64_t V = model.vocab_size();
  const std::int64_t P = static_cast<std::int64_t>(probe.ids.size()) - 1;
  std::vector<float> logits(static_cast<std::size_t>(V));  // (V)
  std::vector<double> log_q(static_cast<std::size_t>(V));  // (V)
  Model::State st = model.zero_state(1);
  double kl = 0;
  for (std::int64_t k = 0; k < P; ++k) {
    model.step({&probe.ids[static_cast<std::size_t>(k)], 1}, st, logits.data());
    log_softmax(logits.data(), V, log_q.data());
    const double* lp = probe.log_p.data() + k * V;
    for (std::int64_t v = 0; v < V; ++v) kl += std::exp(lp[v]) * (lp[v] - log_q[v]);
  }
  // NaN (a diverged int8 path) must not pass the limit.
  return std::isfinite(kl) ? kl / double(P) : std::numeric_limits<double>::infinity();
}

std::string format_nats(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", x);
  return buf;
}

// From CPUID itself: asking oneDNN would fix its ISA before the cap could be set.
bool cpu_has_amx() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  constexpr unsigned kAmxBf16 = 1u << 22, kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;
  return (d & (kAmxBf16 | kAmxTile | kAmxInt8)) != 0;
#else
  return false;
#endif
}

}  // namespace

StepPrecision default_step_precision() {
  // bf16 only where oneDNN runs it natively: emulated bf16 would be slower than f32.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & need) == need ? StepPrecision::bf16 : StepPrecision::f32;
}

bool avoid_amx_for_few_rows(std::int64_t rows) {
  if (rows > kFewRows || std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA"))
    return false;
  if (!cpu_has_amx()) return false;
  // Fails (and changes nothing) once oneDNN has read its ISA: any kernel, or even a query of
  // get_effective_cpu_isa, fixes it for the process.
  return dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_bf16) == dnnl::status::success;
}

namespace {

std::string choose_step_path(Model& model, StepPrecision precision, double int8_limit) {
  if (precision != StepPrecision::automatic) {
    const std::string got = model.prepare_inference(precision);
    // A precision given explicitly that a plugin refused is said, not only named by what
    // replaced it ("f32", or "bf16 (1 of 2 layers; others f32)").
    const std::string asked = to_string(precision);
    if (got == asked) return got;
    const std::string_view isa = native_isa(precision);
    return got + " (" + asked + " was asked for: not every layer's plugin offers it on this CPU" +
           (isa.empty() ? std::string() : "; it needs " + std::string(isa)) + ")";
  }
  // The plugins refuse int8 without fast int8 (AVX512 VNNI) and bf16 without native bfloat16, so
  // asking for int8 gives what this CPU does best; anything short of int8 in every layer is the
  // answer as it stands.
  const std::string offered = model.prepare_inference(StepPrecision::int8);
  if (offered != "int8") return offered;
  // The plain float32 model writes the probe text, then int8 reads the same text.
  model.release_inference();
  const Probe probe = write_probe(model);
  model.prepare_inference(StepPrecision::int8);
  const double kl = divergence(model, probe);
  const std::string units = std::to_string(int8_probe_units);
  if (kl <= int8_limit)
    return "int8 (" + format_nats(kl) + " nats/unit from f32 on a " + units + "-unit probe)";
  return model.prepare_inference(StepPrecision::bf16) + " (int8 moved the predictions by " +
         format_nats(kl) + " nats/unit on a " + units + "-unit probe, over the " +
         format_nats(int8_limit) + " limit)";
}

}  // namespace

std::string prepare_step_path(Model& model, StepPrecision precision, double int8_limit) {
  const std::string path = choose_step_path(model, precision, int8_limit);
  return model.output_step_bf16() ? path + "; output layer bf16" : path;
}

}  // namespace charnn
