// charnn vocab: streams a corpus once, counts its units, builds the vocabulary and shows what the
// model would see: unit kind, vocabulary size, most and least frequent units, the unknown symbol
// and the train/valid/test split sizes. Everything is computed before anything is printed, so a
// bad input prints only the error.
#include <charnn/error.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"

namespace charnn::app {

namespace {

struct VocabCommandOptions {
  std::vector<std::string> files;
  std::string units = "grapheme";
  std::string normalize = "nfc";
  std::string on_invalid = "error";
  bool keep_cr = false;
  std::int64_t min_count = 1;
  std::int64_t max_vocab = 0;
  std::string split = "0.9,0.05,0.05";
  int top = 10;
  bool json = false;
};

std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string human_bytes(std::uint64_t b) {
  char buf[32];
  if (b < 10'000) {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  } else if (b < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(b) / 1e3);
  } else if (b < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / 1e9);
  }
  return buf;
}

std::string percent(std::int64_t part, std::int64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buf;
}

// A "\r"-rewritten progress line on stderr, only for big inputs and only on a terminal.
class Progress {
 public:
  explicit Progress(std::uint64_t total)
      : total_(total), on_(total >= (64u << 20) && ::isatty(STDERR_FILENO) == 1) {}
  void update(std::uint64_t done) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    std::fprintf(stderr, "\rcharnn vocab: reading %3.0f%% of %s", 100.0 * done / total_,
                 human_bytes(total_).c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  std::uint64_t total_;
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int run_vocab(const std::vector<std::string>& args) {
  VocabCommandOptions o;
  po::options_description desc("Options");
  desc.add_options()(
      "units", po::value(&o.units)->default_value(o.units),
      "what one unit is: grapheme (a user-perceived character, ICU extended grapheme "
      "cluster), codepoint, or byte")(
      "normalize", po::value(&o.normalize)->default_value(o.normalize),
      "Unicode normalisation: nfc (compose e + U+0301 into é) or none")(
      "on-invalid", po::value(&o.on_invalid)->default_value(o.on_invalid),
      "invalid UTF-8: error (stop and say where) or replace (with U+FFFD)")(
      "keep-cr", po::bool_switch(&o.keep_cr),
      "keep CR and CRLF line ends instead of turning them into LF")(
      "min-count", po::value(&o.min_count)->default_value(o.min_count),
      "units seen fewer times map to one unknown symbol")(
      "max-vocab", po::value(&o.max_vocab)->default_value(o.max_vocab),
      "keep at most this many ids, unknown symbol included (0 = no limit)")(
      "split", po::value(&o.split)->default_value(o.split),
      "train,valid,test fractions of the corpus (contiguous, in this order)")(
      "top", po::value(&o.top)->default_value(o.top),
      "how many of the most and least frequent units to list")(
      "json", po::bool_switch(&o.json),
      "print one JSON object (summary and the full vocabulary) instead of text");
  po::options_description hidden;
  hidden.add_options()("file", po::value(&o.files), "corpus files");
  po::positional_options_description pos;
  pos.add("file", -1);

  const CommandHelp help{
      "vocab", "charnn vocab [options] FILE...",
      "Reads UTF-8 text files (concatenated in order), cleans them as training does (BOM "
      "stripped, line ends as LF, NFC), and shows the vocabulary: unit kind, size, the most and "
      "least frequent units (escaped so invisible ones show), the unknown symbol and the "
      "train/valid/test split sizes. Files are streamed, so any size works.",
      "charnn vocab corpora/fortunes.txt --units codepoint --min-count 3"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  if (o.files.empty())
    throw error("no corpus file given", "usage: charnn vocab [options] FILE...", 2);
  if (o.top < 0) throw error("--top must not be negative", "e.g. --top 10", 2);
  // Checked again by Vocab::build, but here before a long read rather than after it.
  if (o.min_count < 1)
    throw error("--min-count must be at least 1 (got " + std::to_string(o.min_count) + ")",
                "use 1 to keep every unit", 2);
  if (o.max_vocab != 0 && o.max_vocab < 2)
    throw error(
        "--max-vocab must be 0 (no limit) or at least 2 (got " + std::to_string(o.max_vocab) + ")",
        "the limit includes the unknown symbol, so it needs room for one real unit", 2);

  TextOptions text;
  text.units = parse_unit_kind(o.units);
  text.normalize = parse_normalization(o.normalize);
  text.on_invalid = parse_on_invalid(o.on_invalid);
  text.normalize_newlines = !o.keep_cr;
  const SplitFractions fractions = parse_split(o.split);
  VocabOptions vopt;
  vopt.min_count = o.min_count;
  vopt.max_vocab = o.max_vocab;

  std::vector<std::filesystem::path> paths(o.files.begin(), o.files.end());
  TextReader reader(paths, text);
  UnitCounter counter(text.units);
  {
    Progress progress(reader.total_bytes());
    std::string chunk;
    while (reader.next(chunk)) {
      counter.add_text(chunk);
      progress.update(reader.bytes_read());
    }
  }
  const Vocab vocab = Vocab::build(counter, text, vopt);
  const std::int64_t total = counter.total();
  const SplitSizes split = split_sizes(total, fractions);

  // Real units (the unknown symbol, always last, is reported separately).
  const std::int32_t real = vocab.size() - (vocab.has_unknown() ? 1 : 0);
  const auto distinct = static_cast<std::int64_t>(counter.counts().size());
  const std::int32_t top = std::min<std::int32_t>(o.top, real);
  const std::int32_t bottom_from = std::max<std::int32_t>(top, real - o.top);

  std::ostringstream out;
  if (o.json) {
    auto unit_list = [&](std::int32_t from, std::int32_t to, bool reverse) {
      std::string s = "[";
      for (std::int32_t k = 0; k < to - from; ++k) {
        const std::int32_t id = reverse ? to - 1 - k : from + k;
        s += (k ? ", " : "") + std::string("{\"id\": ") + std::to_string(id) +
             ", \"shown\": " + json_string(escape_unit(vocab.unit(id))) +
             ", \"count\": " + std::to_string(vocab.count(id)) + "}";
      }
      return s + "]";
    };
    out << "{\"files\": [";
    for (std::size_t i = 0; i < o.files.size(); ++i)
      out << (i ? ", " : "") << json_string(o.files[i]);
    out << "],\n \"input_bytes\": " << reader.bytes_read()
        << ", \"units\": " << json_string(to_string(text.units))
        << ", \"normalize\": " << json_string(to_string(text.normalize))
        << ", \"total_units\": " << total << ", \"distinct_units\": " << distinct
        << ", \"vocab_size\": " << vocab.size()
        << ",\n \"unknown\": {\"id\": " << vocab.unknown_id()
        << ", \"distinct_units\": " << (distinct - real)
        << ", \"occurrences\": " << vocab.unknown_units() << ", \"min_count\": " << o.min_count
        << ", \"max_vocab\": " << o.max_vocab << "},\n \"split\": {\"fractions\": ["
        << fractions.train << ", " << fractions.valid << ", " << fractions.test
        << "], \"train\": " << split.train << ", \"valid\": " << split.valid
        << ", \"test\": " << split.test << "},\n \"most_frequent\": " << unit_list(0, top, false)
        << ",\n \"least_frequent\": " << unit_list(bottom_from, real, true)
        << ",\n \"vocab\": " << vocab.to_json() << "}\n";
  } else {
    const char* kind_name = text.units == UnitKind::grapheme    ? "grapheme clusters"
                            : text.units == UnitKind::codepoint ? "code points"
                                                                : "bytes";
    out << "files        ";
    for (std::size_t i = 0; i < o.files.size(); ++i) out << (i ? ", " : "") << o.files[i];
    out << " (" << human_bytes(reader.bytes_read()) << ")\n";
    out << "units        " << kind_name << ", "
        << (text.normalize == Normalization::nfc ? "NFC" : "not normalised") << ", line ends "
        << (text.normalize_newlines ? "as LF" : "kept") << "\n";
    out << "corpus       " << thousands(total) << " units, " << thousands(distinct)
        << " distinct\n";
    out << "vocabulary   " << thousands(vocab.size()) << " ids";
    if (vocab.has_unknown()) out << " (" << thousands(real) << " units + the unknown symbol)";
    out << "\n";
    out << "unknown      ";
    if (vocab.has_unknown()) {
      out << thousands(distinct - real) << " rare units (" << thousands(vocab.unknown_units())
          << " occurrences, " << percent(vocab.unknown_units(), total) << ") map to id "
          << vocab.unknown_id();
    } else {
      out << "none";
    }
    out << " (--min-count " << o.min_count << ", --max-vocab "
        << (o.max_vocab > 0 ? std::to_string(o.max_vocab) : std::string("none")) << ")\n";
    out << "split        train " << thousands(split.train) << ", valid " << thousands(split.valid)
        << ", test " << thousands(split.test) << " units (" << o.split << ")\n";
    auto table = [&](const char* title, std::int32_t from, std::int32_t to, bool reverse) {
      if (to <= from) return;
      out << "\n" << title << "\n       id        count    share  unit\n";
      for (std::int32_t k = 0; k < to - from; ++k) {
        const std::int32_t id = reverse ? to - 1 - k : from + k;
        char row[64];
        std::snprintf(row, sizeof row, "  %7d %12s %8s  ", id, thousands(vocab.count(id)).c_str(),
                      percent(vocab.count(id), total).c_str());
        out << row << "'" << escape_unit(vocab.unit(id)) << "'\n";
      }
    };
    table("most frequent", 0, top, false);
    table("least frequent", bottom_from, real, true);
  }
  std::cout << out.str() << std::flush;
  if (!std::cout) throw error("could not write the output (stdout closed or disk full?)");
  return 0;
}

}  // namespace charnn::app
