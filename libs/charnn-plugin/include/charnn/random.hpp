// Random numbers that are the same on every platform: the one splitmix64 mixer, and the
// xoshiro256** generator the sampler draws with. Written here, not taken from <random>, because
// the standard engines' seeding and distributions differ between standard libraries: the same
// seed must give the same dropout masks, batches and sampled text everywhere. Depends on nothing,
// so it sits with the plugin headers: cells initialise their weights from the same mixer.
#pragma once

#include <array>
#include <cstdint>

namespace charnn {

// The golden-ratio increment of the splitmix64 sequence.
inline constexpr std::uint64_t kSplitmixGamma = 0x9e3779b97f4a7c15ull;

// One step of splitmix64: a well-mixed 64-bit value from x. Seeds every derived random stream
// (dropout masks, batch offsets, parameter init, the sampler's generators) so that results depend
// only on the seed. The sequence x, x + kSplitmixGamma, x + 2 kSplitmixGamma, ... mixed one by
// one is the classic splitmix64 generator.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += kSplitmixGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The classic splitmix64 generator: the mixed points seed, seed + gamma, seed + 2 gamma, ...
// Small and fast, for initial weights and test data.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : x_(seed) {}
  std::uint64_t next() {
    const std::uint64_t v = splitmix64(x_);
    x_ += kSplitmixGamma;
    return v;
  }
  // Uniform in [-a, a), from the top 24 bits so that every value is exact in a float.
  float uniform_sym(float a) {
    const float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * a;
  }

 private:
  std::uint64_t x_;
};

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  // Streams with the same seed and different indices are independent generators, so each
  // sample's text depends only on (seed, stream), never on threads or on the other streams.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0) {
    // Hash the stream index first so that neighbouring (seed, stream) pairs do not give
    // neighbouring splitmix64 sequences; splitmix64 then spreads the seed over the 256-bit state.
    std::uint64_t x = seed ^ splitmix64(stream);
    for (auto& s : s_) {
      s = splitmix64(x);
      x += kSplitmixGamma;
    }
  }
  // A raw xoshiro256** state (not all zero), to check the generator against its reference.
  explicit Rng(const std::array<std::uint64_t, 4>& state)
      : s_{state[0], state[1], state[2], state[3]} {}

  std::uint64_t next() {
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
  // Uniform in [0, 1): the top 53 bits of next() scaled by 2^-53 (exact in a double).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t s_[4];
};

}  // namespace charnn
