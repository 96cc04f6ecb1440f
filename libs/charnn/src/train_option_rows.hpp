// Shorthands for the rows of the training option table (train_options.cpp and
// train_text_options.cpp, its only users): a field stored as an integer, a double or "auto",
// read back strictly, and a check that names the option. Macros because a designated
// initializer cannot be built by a function.
#pragma once

#include <charnn/train_config.hpp>

#include <span>

#define CHARNN_INTEGER(field)                                          \
  .get = [](const TrainConfig& c) { return std::to_string(c.field); }, \
  .set = [](TrainConfig& c, const std::string& s) { c.field = parse_int(s); }
#define CHARNN_REAL(field)                                        \
  .get = [](const TrainConfig& c) { return real_text(c.field); }, \
  .set = [](TrainConfig& c, const std::string& s) { c.field = parse_real(s); }
// An integer field that may be left to the plan: "auto" or a number.
#define CHARNN_AUTO_INTEGER(field)                                    \
  .get = [](const TrainConfig& c) { return auto_int_text(c.field); }, \
  .set = [](TrainConfig& c, const std::string& s) { c.field = parse_auto_int(s); }
// A real field that may be left to the plan: "auto" (stored as `sentinel`) or a number.
#define CHARNN_AUTO_REAL(field, sentinel)                                        \
  .get = [](const TrainConfig& c) { return auto_real_text(c.field, sentinel); }, \
  .set = [](TrainConfig& c, const std::string& s) { c.field = parse_auto_real(s, sentinel); }
// A check that names the option: `cond` must hold, else "<name><message>".
#define CHARNN_ACCEPT_IF(cond, message)                                              \
  .check = [](const TrainConfig& c, const std::string& name) -> TrainOptionProblem { \
    if (cond) return {};                                                             \
    return {name + (message), {}};                                                   \
  }

namespace charnn::detail {
// The text's and the corpus's rows (train_text_options.cpp); train_options() puts them last.
std::span<const TrainOption> text_option_rows();
}  // namespace charnn::detail
