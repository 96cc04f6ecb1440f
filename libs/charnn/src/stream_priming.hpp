// What every generation loop (Sampler, SampleSession, beam_search) does before its first step:
// check that the vocabulary fits the model, and prime N streams with one seed.
#pragma once

#include <charnn/model.hpp>
#include <charnn/vocab.hpp>

#include <cstdint>
#include <vector>

namespace charnn::detail {

// Throws charnn::error when the model scores a different number of units than the vocabulary has.
void check_vocab_fits(const Model& model, const Vocab& vocab);

// Every stream continues the same seed, so it runs once (N = 1) and its state is copied to all N
// streams. All units of `prime` but the last only move the state; the last is each stream's first
// input. logits: (N, V) scratch. tune_threads as SampleOptions::tune_threads.
Model::State prime_streams(Model& model, const std::vector<std::int32_t>& prime, std::int64_t N,
                           bool tune_threads, int most_threads, float* logits);

}  // namespace charnn::detail
