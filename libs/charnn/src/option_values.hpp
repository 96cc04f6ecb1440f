// How a training option's value is written to config.json and read back, strictly: the whole
// text must be the value, in range (shared by the option table, train_options.cpp). Numbers,
// seeds, "auto", progress modes and cell lists, and how --help shows defaults; the table's rows
// only pick one.
#pragma once

#include <charnn/train_config.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace charnn::detail::option_values {

// Shortest text that reads back as the same value (0.9, not 0.90000000000000002; a float
// field's 0.1f as "0.1").
std::string real_text(double v);
std::string float_text(float v);

// Throw charnn::error for text that is not entirely one number, or is out of range.
std::int64_t parse_int(const std::string& s);
double parse_real(const std::string& s);
// The random seed: 0 to 2^64-1 (exit 2 otherwise; a negative one used to wrap around).
std::uint64_t parse_seed(const std::string& s);

// "auto" for the sentinel (kAuto for integers), else the number.
std::string auto_int_text(std::int64_t v);
std::int64_t parse_auto_int(const std::string& s);
std::string auto_real_text(double v, double sentinel);
double parse_auto_real(const std::string& s, double sentinel);

// --progress: auto, live, plain, quiet or json (exit 2 otherwise).
TrainConfig::ProgressMode parse_progress(const std::string& s);
// "lstm, elman" -> {"lstm", "elman"}: the command line tolerates spaces after commas.
std::vector<std::string> cell_list(const std::string& s);

// How --help shows two defaults: "lstm" for {"lstm", "lstm"} (one name and a layer count), and
// "15m" for 900 seconds.
std::string common_cell(const TrainConfig& c);
std::string minutes_text(double seconds);

}  // namespace charnn::detail::option_values
