#include "charnn/checksum.hpp"

#include <bit>
#include <cstring>

namespace charnn {

namespace {

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;  // 2^64 / the golden ratio, odd
constexpr std::uint64_t kMixA = 0xbf58476d1ce4e5b9ull;    // odd multipliers with well-spread bits
constexpr std::uint64_t kMixB = 0x94d049bb133111ebull;

// Words are read in the host's order, little-endian on every platform charnn targets (the
// checkpoint's floats assume the same).
std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::uint64_t lane_step(std::uint64_t acc, std::uint64_t word) {
  return std::rotl(acc + word * kMixA, 31) * kGolden;
}

// Spreads every input bit over the whole word (xor-shifts and odd multiplies: a bijection).
std::uint64_t avalanche(std::uint64_t h) {
  h ^= h >> 30;
  h *= kMixA;
  h ^= h >> 27;
  h *= kMixB;
  h ^= h >> 31;
  return h;
}

}  // namespace

std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t checksum64(const void* data, std::size_t size, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t lane[4] = {seed + kGolden, seed ^ kMixA, seed + kMixB, seed - kGolden};
  std::size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int l = 0; l < 4; ++l) lane[l] = lane_step(lane[l], load64(p + i + 8 * l));
  // The last 0-31 bytes: whole words to the lanes in turn, then the rest zero-padded (the size,
  // mixed in below, tells "ab" from "ab\0").
  int l = 0;
  for (; i + 8 <= size; i += 8, ++l) lane[l] = lane_step(lane[l], load64(p + i));
  if (i < size) {
    std::uint64_t word = 0;
    std::memcpy(&word, p + i, size - i);
    lane[l] = lane_step(lane[l], word);
  }
  std::uint64_t h = seed ^ (static_cast<std::uint64_t>(size) * kMixB);
  for (const std::uint64_t v : lane) h = std::rotl(h ^ avalanche(v), 27) * kGolden + kMixB;
  return avalanche(h);
}

}  // namespace charnn
