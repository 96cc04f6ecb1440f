// Inspection end to end: a small LSTM trained here on a synthetic corpus built for it (long
// quoted spans, word-wrapped lines of fixed width) must grow units the tool finds for
// "inside quotes" and "column in line"; dumps read back. The commands: test_cli_inspect.cpp.
#include <charnn/checkpoint.hpp>
#include <charnn/dump.hpp>
#include <charnn/error.hpp>
#include <charnn/inspect.hpp>
#include <charnn/trace.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/probes.hpp>
#include <charnn/text.hpp>
#include <charnn/trainer.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "inspect_support.hpp"

using namespace charnn::inspect_test;

namespace {

// The synthetic corpus: random words, lower-case outside quotes and upper-case inside, so the
// model profits from knowing whether a quote is open; quotes span 5-12 words and so cross line
// ends. Lines are word-wrapped at `width` columns, so whether the next word fits (a space or a
// line break) depends on the column. Deterministic: only mt19937's specified output is used.
std::string synthetic_corpus(std::size_t units, std::uint32_t seed, std::size_t width = 30) {
  std::mt19937 rng(seed);
  auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  const std::string lower = "etaoinshrdlu";
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
  std::string text, line;
  bool inside = false;
  int left = 0;
  while (text.size() < units) {
    std::string word;
    if (!inside && pick(100) < 8) {
      inside = true;
      left = 5 + static_cast<int>(pick(8));
      word = "\"";
    }
    const std::string& letters = inside ? upper : lower;
    const std::uint32_t len = 2 + pick(5);
    for (std::uint32_t i = 0; i < len; ++i) word += letters[pick(12)];
    if (inside && word[0] != '"' && --left <= 0) {
      word += '"';
      inside = false;
    }
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      text += line + "\n";
      line = word;
    } else {
      line += (line.empty() ? "" : " ") + word;
    }
  }
  return text + line + "\n";
}

struct TrainedModel {
  fs::path dir;
  charnn::LoadedModel loaded;
};

TrainedModel train_small_lstm(const std::string& name, std::int64_t hidden, std::int64_t iters,
                              std::size_t corpus_units) {
  TrainedModel out;
  out.dir = temp_dir(name);
  write_file(out.dir / "corpus.txt", synthetic_corpus(corpus_units, 11));
  charnn::TrainConfig config;
  config.corpus = {out.dir / "corpus.txt"};
  config.cells = {"lstm"};
  config.hidden = hidden;
  config.dropout = 0;
  config.seq_len = 64;
  config.batch = 32;
  config.optimizer = {};
  config.schedule.lr = 4e-3;
  config.schedule.warmup = 0;
  config.max_iters = iters;
  config.eval_every = iters;
  config.eval_units = 20000;
  config.out = out.dir / "run";
  config.seed = 3;
  config.progress = charnn::TrainConfig::ProgressMode::quiet;
  std::ostringstream log;
  charnn::TrainHooks hooks;
  hooks.log = &log;
  charnn::train(config, registry(), hooks);
  out.loaded = charnn::load_model(
      charnn::resolve_checkpoint(out.dir / "run", charnn::CheckpointChoice::last), registry());
  return out;
}

// Best |r| for a probe.
double best_r(const charnn::InspectReport& rep, const std::string& probe) {
  for (const auto& p : rep.probes)
    if (p.name == probe && !p.top.empty()) return std::fabs(p.top[0].r);
  return 0;
}

charnn::InspectReport inspect_synthetic(charnn::LoadedModel& m, std::size_t units) {
  const std::string raw = synthetic_corpus(units, 99);  // not the training text
  const auto text = charnn::prepare_text(charnn::clean_text(raw, m.vocab.text_options()), m.vocab,
                                         charnn::UnknownUnits::error, "synthetic");
  const auto probes = charnn::builtin_probes(text.text, text.boundaries);
  charnn::InspectOptions options;
  options.top = 3;
  options.excerpt_units = 500;
  return charnn::inspect_model(*m.model, text, probes, options);
}

}  // namespace

TEST_CASE("a small LSTM trained on quoted, fixed-width text grows a quote unit the tool finds",
          "[inspect][acceptance]") {
  // The fast variant for the default suite: a short training run is enough for the quote unit.
  TrainedModel m = train_small_lstm("fast", 32, 250, 120000);
  const auto rep = inspect_synthetic(m.loaded, 12000);
  // Shown in the test log so a run reports what the tool found.
  WARN("fast acceptance: best |r| in_quotes " << best_r(rep, "in_quotes") << ", column "
                                              << best_r(rep, "column"));
  CHECK(best_r(rep, "in_quotes") >= 0.9);
  // The excerpt and loss are filled; a trained model is far better than uniform guessing.
  CHECK(rep.excerpt.size() == 500);
  CHECK(rep.mean_loss < std::log(static_cast<double>(m.loaded.vocab.size())) - 0.3);
  CHECK(rep.units == rep.text_units);
  CHECK(rep.units >= 12000);
  fs::remove_all(m.dir);
}

TEST_CASE("the tool finds a quote unit with |r| >= 0.9 and a column unit with |r| >= 0.8",
          "[inspect][acceptance][.slow]") {
  TrainedModel m = train_small_lstm("slow", 64, 1500, 300000);
  const auto rep = inspect_synthetic(m.loaded, 20000);
  std::ostringstream table;
  charnn::write_terminal_report(table, rep);
  WARN(table.str());
  CHECK(best_r(rep, "in_quotes") >= 0.9);
  CHECK(best_r(rep, "column") >= 0.8);
  fs::remove_all(m.dir);
}

TEST_CASE("dump writes every traced signal as NPY rows that match the model's trace",
          "[inspect][dump]") {
  const fs::path dir = temp_dir("dump");
  const std::string raw = "He said \"hi (there)\".\nOk.\n";
  const fs::path ckpt = untrained_checkpoint(dir, raw);
  auto m = charnn::load_model(ckpt, registry());
  const auto text = charnn::prepare_text(charnn::clean_text(raw, m.vocab.text_options()), m.vocab,
                                         charnn::UnknownUnits::error, "raw");
  charnn::DumpOptions opt;
  opt.trace.chunk = 7;  // several chunks, the last one short
  opt.trace.streams = 3;  // and segments side by side, with seams
  opt.trace.warmup = 4;
  opt.trace.tolerance = 1e-6f;  // seams agree beyond the comparison below
  opt.unit_kind = "grapheme";
  const auto result = charnn::dump_trace(*m.model, text, dir / "out", opt);
  const auto n = static_cast<std::size_t>(text.units());
  REQUIRE(result.arrays.size() == 2 * m.model->layer(0).signals().size());

  // The reference: one trace over the whole text in a single chunk.
  std::vector<std::vector<std::vector<float>>> expect(2);  // [layer][signal]: (units, H)
  charnn::TraceOptions one;
  one.streams = 1;
  one.chunk = 1000;
  charnn::trace_text(
      *m.model, text.ids,
      [&](const charnn::TraceChunk& c) {
        for (std::size_t l = 0; l < c.signals.size(); ++l) {
          expect[l].resize(c.signals[l].size());
          for (std::size_t k = 0; k < c.signals[l].size(); ++k)
            expect[l][k].insert(expect[l][k].end(), c.signals[l][k].begin(),
                                c.signals[l][k].begin() + c.T * 8);
        }
      },
      one);
  for (const auto& a : result.arrays) {
    INFO(a.file.string());
    const std::string bytes = slurp(a.file);
    REQUIRE(bytes.size() > 10);
    const std::size_t len = static_cast<unsigned char>(bytes[8]) |
                            (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    CHECK_THAT(bytes.substr(10, len), Catch::Contains("'shape': (" + std::to_string(n) + ", 8)"));
    REQUIRE(bytes.size() == 10 + len + n * 8 * sizeof(float));
    std::vector<float> data(n * 8);
    std::memcpy(data.data(), bytes.data() + 10 + len, data.size() * sizeof(float));
    const auto& names = m.model->layer(a.layer).signals();
    const auto k =
        static_cast<std::size_t>(std::find(names.begin(), names.end(), a.signal) - names.begin());
    const auto& ref = expect[static_cast<std::size_t>(a.layer)][k];
    REQUIRE(ref.size() == data.size());
    for (std::size_t i = 0; i < data.size(); ++i)
      REQUIRE_THAT(data[i], Catch::Matchers::WithinAbs(ref[i], 1e-5));
  }
  // units.json lines the rows up with the text: escaped units and byte offsets.
  const auto units = nlohmann::ordered_json::parse(slurp(dir / "out" / "units.json"));
  CHECK(units["count"] == n);
  const auto unit_list = units["units"].get<std::vector<std::string>>();
  REQUIRE(unit_list.size() >= 4);
  CHECK(std::vector<std::string>(unit_list.begin(), unit_list.begin() + 4) ==
        std::vector<std::string>{"H", "e", " ", "s"});
  CHECK(std::count(unit_list.begin(), unit_list.end(), "\"") > 0);
  CHECK(std::count(unit_list.begin(), unit_list.end(), "\n") > 0);
  const auto offsets = units["offsets"].get<std::vector<std::int64_t>>();
  CHECK(std::vector<std::int64_t>(offsets.begin(), offsets.begin() + 4) ==
        std::vector<std::int64_t>{0, 1, 2, 3});
  bool c_file = false;
  for (const auto& a : units["arrays"]) c_file |= a["file"] == "layer1_c.npy";
  CHECK(c_file);
  // Nothing but the finished files.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    ++files;
    CHECK(e.path().string().find(".tmp") == std::string::npos);
  }
  CHECK(files == result.files.size());

  // csv and jsonl hold the same numbers as text.
  opt.format = charnn::DumpFormat::csv;
  opt.layers = {1};
  opt.signals = {"h"};
  charnn::dump_trace(*m.model, text, dir / "csv", opt);
  const std::string csv = slurp(dir / "csv" / "layer1_h.csv");
  CHECK_THAT(csv, Catch::StartsWith("index,offset,unit,h0,h1,h2,h3,h4,h5,h6,h7\n0,0,\"H\","));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == static_cast<std::ptrdiff_t>(n + 1));
  CHECK_THAT(csv, Catch::Contains(",\"\\n\","));  // the newline unit, escaped
  opt.format = charnn::DumpFormat::jsonl;
  charnn::dump_trace(*m.model, text, dir / "jsonl", opt);
  const std::string jsonl = slurp(dir / "jsonl" / "trace.jsonl");
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == static_cast<std::ptrdiff_t>(n));
  const auto first = nlohmann::ordered_json::parse(jsonl.substr(0, jsonl.find('\n')));
  std::vector<std::string> keys;
  for (const auto& [k, v] : first.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"index", "offset", "unit", "layer1.h"});
  CHECK(first["index"] == 0);
  CHECK(first["offset"] == 0);
  CHECK(first["unit"] == "H");
  CHECK(first["layer1.h"].is_array());
  fs::remove_all(dir);
}

TEST_CASE("dump selections name what exists when a layer or signal does not", "[inspect][dump]") {
  const fs::path dir = temp_dir("select");
  auto m = charnn::load_model(untrained_checkpoint(dir, "abc"), registry());
  charnn::DumpOptions opt;
  opt.layers = {2};
  CHECK_THROWS_WITH(charnn::select_signals(*m.model, opt), Catch::Contains("2 layers"));
  opt.layers = {1, 1};
  opt.signals = {"c", "h"};
  const auto sel = charnn::select_signals(*m.model, opt);
  REQUIRE(sel.size() == 2);
  CHECK(sel[0].signal == "h");  // in the cell's order
  CHECK(sel[1].signal == "c");
  opt.signals = {"zz"};
  try {
    charnn::select_signals(*m.model, opt);
    FAIL("unknown signal accepted");
  } catch (const charnn::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("zz"));
    CHECK_THAT(e.hint(), Catch::Contains("layer 1 (lstm): h c"));
  }
  fs::remove_all(dir);
}
