// Command-line options built from the library's table of training settings
// (charnn::train_options()): `train` declares every row, `vocab` the text rows, so each flag,
// default and help text is written once, in libs/charnn/src/train_options.cpp (the text rows in
// train_text_options.cpp).
#pragma once

#include <charnn/train_config.hpp>

#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

// Adds the rows of `group` to `options`, with the defaults of `defaults` shown by --help.
void add_table_options(po::options_description& options, TrainOptionGroup group,
                       const TrainConfig& defaults);

// Applies to `config` the rows of `group` the user typed, in table order; rows not typed keep
// what `config` holds. Returns the config keys applied (for --resume's overrides).
std::vector<std::string> apply_table_options(const po::variables_map& vm, TrainOptionGroup group,
                                             TrainConfig& config);

}  // namespace charnn::app
