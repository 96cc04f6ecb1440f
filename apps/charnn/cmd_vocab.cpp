// charnn vocab: streams a corpus once, counts its units, builds the vocabulary and shows what the
// model would see: unit kind, vocabulary size, most and least frequent units, the unknown symbol
// and the train/valid/test split sizes. Everything is computed before anything is printed, so a
// bad input prints only the error.
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/progress.hpp>
#include <charnn/text.hpp>
#include <charnn/vocab.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "table_options.hpp"

namespace charnn::app {

namespace {

struct VocabCommandOptions {
  std::vector<std::string> files;
  TrainConfig text;  // only its text, vocab and split fields: the table's text rows fill them
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

std::string split_text(const SplitFractions& f) {  // "0.9,0.05,0.05"
  char buf[96];
  std::snprintf(buf, sizeof buf, "%g,%g,%g", f.train, f.valid, f.test);
  return buf;
}

std::string percent(std::int64_t part, std::int64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buf;
}

// Everything the command prints, computed before anything is printed.
struct Summary {
  explicit Summary(const VocabCommandOptions& options)
      : o(options), text(options.text.text), fractions(options.text.split) {}
  const VocabCommandOptions& o;
  TextOptions text;
  SplitFractions fractions;
  std::uint64_t bytes = 0;
  Vocab vocab;
  std::int64_t total = 0, distinct = 0;
  SplitSizes split;
  std::int32_t real = 0, top = 0, bottom_from = 0;  // real: units without the unknown symbol
};

// Streams the files once, counting units; a progress line on a terminal for big inputs.
UnitCounter count_units(const std::vector<std::string>& files, const TextOptions& text,
                        std::uint64_t& bytes) {
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  TextReader reader(paths, text);
  UnitCounter counter(text.units);
  // Only for big inputs: a small file is read before a progress line would be worth it.
  const bool show = reader.total_bytes() >= (64u << 20) && Progress::is_terminal(std::cerr);
  Progress progress(std::cerr, show ? Progress::Mode::live : Progress::Mode::quiet, 0.0, 0.25);
  std::string chunk;
  char status[96];
  while (reader.next(chunk)) {
    counter.add_text(chunk);
    std::snprintf(status, sizeof status, "charnn vocab: reading %3.0f%% of %s",
                  100.0 * reader.bytes_read() / reader.total_bytes(),
                  human_bytes(reader.total_bytes()).c_str());
    progress.update(status);
  }
  progress.clear();  // the summary follows: the line is not worth keeping
  bytes = reader.bytes_read();
  return counter;
}

// ids from..to-1 (reverse: to-1 down to from) as {"id", "shown", "count"} objects.
Json unit_list(const Vocab& vocab, std::int32_t from, std::int32_t to, bool reverse) {
  Json list = Json::array();
  for (std::int32_t k = 0; k < to - from; ++k) {
    const std::int32_t id = reverse ? to - 1 - k : from + k;
    Json u;
    u["id"] = id;
    u["shown"] = escape_unit(vocab.unit(id));
    u["count"] = vocab.count(id);
    list.push_back(std::move(u));
  }
  return list;
}

void write_json(std::ostream& out, const Summary& s) {
  const Vocab& vocab = s.vocab;
  Json j;
  j["files"] = s.o.files;
  j["input_bytes"] = s.bytes;
  j["units"] = to_string(s.text.units);
  j["normalize"] = to_string(s.text.normalize);
  j["total_units"] = s.total;
  j["distinct_units"] = s.distinct;
  j["vocab_size"] = vocab.size();
  Json& unknown = j["unknown"];
  unknown["id"] = vocab.unknown_id();
  unknown["distinct_units"] = s.distinct - s.real;
  unknown["occurrences"] = vocab.unknown_units();
  unknown["min_count"] = s.o.text.vocab.min_count;
  unknown["max_vocab"] = s.o.text.vocab.max_vocab;
  Json& parts = j["split"];
  parts["fractions"] = {s.fractions.train, s.fractions.valid, s.fractions.test};
  parts["train"] = s.split.train;
  parts["valid"] = s.split.valid;
  parts["test"] = s.split.test;
  j["most_frequent"] = unit_list(vocab, 0, s.top, false);
  j["least_frequent"] = unit_list(vocab, s.bottom_from, s.real, true);
  j["vocab"] = Json::parse(vocab.to_json());  // the library's own description, nested
  out << json_text(j) << "\n";
}

void write_table(std::ostream& out, const Summary& s, const char* title, std::int32_t from,
                 std::int32_t to, bool reverse) {
  if (to <= from) return;
  out << "\n" << title << "\n       id        count    share  unit\n";
  for (std::int32_t k = 0; k < to - from; ++k) {
    const std::int32_t id = reverse ? to - 1 - k : from + k;
    char row[64];
    std::snprintf(row, sizeof row, "  %7d %12s %8s  ", id, thousands(s.vocab.count(id)).c_str(),
                  percent(s.vocab.count(id), s.total).c_str());
    out << row << "'" << escape_unit(s.vocab.unit(id)) << "'\n";
  }
}

void write_text(std::ostream& out, const Summary& s) {
  const Vocab& vocab = s.vocab;
  const auto& o = s.o;
  const TextOptions& text = s.text;
  const char* kind_name = text.units == UnitKind::grapheme    ? "grapheme clusters"
                          : text.units == UnitKind::codepoint ? "code points"
                                                              : "bytes";
  out << "files        ";
  for (std::size_t i = 0; i < o.files.size(); ++i) out << (i ? ", " : "") << o.files[i];
  out << " (" << human_bytes(s.bytes) << ")\n";
  out << "units        " << kind_name << ", "
      << (text.normalize == Normalization::nfc ? "NFC" : "not normalised") << ", line ends "
      << (text.normalize_newlines ? "as LF" : "kept") << "\n";
  out << "corpus       " << thousands(s.total) << " units, " << thousands(s.distinct)
      << " distinct\n";
  out << "vocabulary   " << thousands(vocab.size()) << " ids";
  if (vocab.has_unknown()) out << " (" << thousands(s.real) << " units + the unknown symbol)";
  out << "\n";
  out << "unknown      ";
  if (vocab.has_unknown()) {
    out << thousands(s.distinct - s.real) << " rare units (" << thousands(vocab.unknown_units())
        << " occurrences, " << percent(vocab.unknown_units(), s.total) << ") map to id "
        << vocab.unknown_id();
  } else {
    out << "none";
  }
  out << " (--min-count " << o.text.vocab.min_count << ", --max-vocab "
      << (o.text.vocab.max_vocab > 0 ? std::to_string(o.text.vocab.max_vocab) : std::string("none"))
      << ")\n";
  out << "split        train " << thousands(s.split.train) << ", valid " << thousands(s.split.valid)
      << ", test " << thousands(s.split.test) << " units (" << split_text(o.text.split) << ")\n";
  write_table(out, s, "most frequent", 0, s.top, false);
  write_table(out, s, "least frequent", s.bottom_from, s.real, true);
}

}  // namespace

int run_vocab(const std::vector<std::string>& args) {
  VocabCommandOptions o;
  po::options_description desc("Options");
  add_table_options(desc, TrainOptionGroup::text, o.text);
  desc.add_options()("top", po::value(&o.top)->default_value(o.top)->value_name("N"),
                     "how many of the most and least frequent units to list")(
      "json", po::bool_switch(&o.json),
      "print one JSON object (summary and the full vocabulary) instead of text");
  po::options_description hidden;
  po::positional_options_description pos;
  add_file_arguments(hidden, pos, o.files);

  const CommandHelp help{
      "vocab", "charnn vocab [options] FILE...",
      "Reads UTF-8 text files (concatenated in order), cleans them as training does (BOM "
      "stripped, line ends as LF, NFC), and shows the vocabulary: unit kind, size, the most and "
      "least frequent units (escaped so invisible ones show), the unknown symbol and the "
      "train/valid/test split sizes. Files are streamed, so any size works.",
      "charnn vocab corpora/fortunes.txt --units codepoint --min-count 3"};
  po::variables_map vm;
  if (!parse_options(help, desc, hidden, pos, args, vm)) return 0;
  apply_table_options(vm, TrainOptionGroup::text, o.text);
  if (o.files.empty())
    throw error("no corpus file given", "usage: charnn vocab [options] FILE...", 2);
  if (o.top < 0) throw error("--top must not be negative", "e.g. --top 10", 2);
  // Checked again by Vocab::build, but here before a long read rather than after it.
  if (o.text.vocab.min_count < 1)
    throw error(
        "--min-count must be at least 1 (got " + std::to_string(o.text.vocab.min_count) + ")",
        "use 1 to keep every unit", 2);
  if (o.text.vocab.max_vocab != 0 && o.text.vocab.max_vocab < 2)
    throw error("--max-vocab must be 0 (no limit) or at least 2 (got " +
                    std::to_string(o.text.vocab.max_vocab) + ")",
                "the limit includes the unknown symbol, so it needs room for one real unit", 2);

  Summary sum(o);
  const UnitCounter counter = count_units(o.files, sum.text, sum.bytes);
  sum.vocab = Vocab::build(counter, sum.text, o.text.vocab);
  sum.total = counter.total();
  sum.split = split_sizes(sum.total, sum.fractions);
  // Real units (the unknown symbol, always last, is reported separately).
  sum.real = sum.vocab.size() - (sum.vocab.has_unknown() ? 1 : 0);
  sum.distinct = static_cast<std::int64_t>(counter.counts().size());
  sum.top = std::min<std::int32_t>(o.top, sum.real);
  sum.bottom_from = std::max<std::int32_t>(sum.top, sum.real - o.top);

  std::ostringstream out;
  if (o.json)
    write_json(out, sum);
  else
    write_text(out, sum);
  std::cout << out.str() << std::flush;
  return 0;
}

}  // namespace charnn::app
