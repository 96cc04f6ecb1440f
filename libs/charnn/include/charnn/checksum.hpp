// Checksums of bytes: what checkpoints use to catch damaged files, and what ties a run to its
// training text.
#pragma once

#include <cstddef>
#include <cstdint>

namespace charnn {

// FNV-1a 64-bit, continuing from `seed` (the FNV offset basis by default). One byte at a time
// in one dependent chain: about 1 GB/s. Kept for what was written with it: format-1
// checkpoints and the training text's fingerprint stored in every checkpoint.
std::uint64_t fnv1a64(const void* data, std::size_t size,
                      std::uint64_t seed = 0xcbf29ce484222325ull);

// A 64-bit checksum that runs at memory speed: four independent lanes, each taking one 8-byte
// word per step (add, rotate, odd multiply), then a mix of the lanes and the size. Every step is
// a bijection of its lane, so any change confined to one 8-byte word always changes the result;
// other damage goes unseen with a chance of about 2^-64. It catches accidents, not forgery.
// `seed` chains calls: checksum64(b, nb, checksum64(a, na)) covers a then b.
std::uint64_t checksum64(const void* data, std::size_t size, std::uint64_t seed = 0);

}  // namespace charnn
