// The text options of the commands that read a corpus (vocab; train can adopt them): how it is
// cut into units and cleaned, and the vocabulary and split built from it. Declared once, with
// defaults taken from the library's TextOptions, VocabOptions and SplitFractions.
#pragma once

#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <string>

#include "command.hpp"

namespace charnn::app {

struct TextFlags {
  std::string units = to_string(TextOptions{}.units);
  std::string normalize = to_string(TextOptions{}.normalize);
  std::string on_invalid = to_string(TextOptions{}.on_invalid);
  bool keep_cr = !TextOptions{}.normalize_newlines;
  VocabOptions vocab;
  std::string split = shown_split(SplitFractions{});

  // Throw charnn::error (exit code 2) on a bad name or split.
  TextOptions text() const;
  SplitFractions fractions() const;

  static std::string shown_split(const SplitFractions& f);  // "0.9,0.05,0.05"
};

// --units, --normalize, --on-invalid, --keep-cr, --min-count, --max-vocab, --split.
void add_text_options(po::options_description& options, TextFlags& flags);

}  // namespace charnn::app
