// What the sampling and beam-search tests share: a vocabulary from a text, and a small LSTM
// model with random weights over it.
#pragma once

#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <filesystem>
#include <memory>
#include <string_view>

namespace charnn::test {

inline charnn::Vocab vocab_of(std::string_view text, charnn::VocabOptions options = {}) {
  charnn::UnitCounter counter(charnn::UnitKind::grapheme);
  counter.add_text(charnn::clean_text(text, {}));
  return charnn::Vocab::build(counter, {}, options);
}

inline const charnn::PluginRegistry& lstm_plugins() {
  static const charnn::PluginRegistry reg = [] {
    charnn::PluginSearch search;
    search.use_default_dir = false;
    search.use_env = false;
    search.files.push_back(std::filesystem::path(CHARNN_PLUGIN_DIR) / "charnn-cell-lstm.so");
    return charnn::PluginRegistry::discover(search);
  }();
  return reg;
}

// A two-layer LSTM with random weights, scaled up so its next-unit distributions are far from
// uniform (the text is meaningless, but every code path runs).
inline std::unique_ptr<charnn::Model> random_model(const charnn::Vocab& vocab, std::int64_t hidden = 24) {
  charnn::ModelConfig config;
  config.cells = {"lstm", "lstm"};
  config.hidden = hidden;
  config.vocab_size = vocab.size();
  auto model = std::make_unique<charnn::Model>(config, lstm_plugins());
  model->init_params(12345);
  for (auto& w : model->params()) w *= 4.0f;
  return model;
}

inline const char* kText =
    "It was in July, 1805, and the speaker was the well-known Anna Pavlovna Scherer.\n"
    "\"Well, Prince, so Genoa and Lucca are now just family estates of the Buonapartes.\"\n";

}  // namespace charnn::test
