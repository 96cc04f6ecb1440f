// How much memory a training run will need, known before anything large is allocated, and how
// much the machine can give: so `charnn train --hidden 100000` is refused with both figures at
// once instead of failing deep inside an allocation minutes later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace charnn {

struct TrainingShape {
  std::int64_t parameters = 0;  // Model::param_count
  std::int64_t layers = 0;
  std::int64_t hidden = 0;
  std::int64_t vocab = 0;
  std::int64_t seq_len = 0;  // T
  std::int64_t batch = 0;    // N
};

// Bytes for the weights with their gradients, two optimiser moments and their running average
// (float32), a bfloat16 copy of the weights, what the forward pass keeps for the backward pass of
// one T x N segment (about a dozen H-wide float vectors per layer and step, the LSTM's gates,
// cell and output with their gradients) and the output layer's logits, probabilities and
// gradient. An upper estimate for the built-in cells, meant to catch sizes off by orders of
// magnitude.
double training_bytes(const TrainingShape& shape);

// Bytes this process could still allocate: MemAvailable from /proc/meminfo, lowered by a cgroup
// memory limit where one is set. nullopt where neither can be read.
std::optional<double> available_memory_bytes();

// "1.3 GB", "512 MB", "12 kB": decimal units, as free(1) -h and the kernel's own figures round.
std::string bytes_text(double bytes);

}  // namespace charnn
