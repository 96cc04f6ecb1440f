// Checkpoint files: a bit-exact round trip, every kind of bad file as one clear error naming
// the file, atomic writes, and how commands find a checkpoint (file, run dir, runs/latest).
#include <charnn/checkpoint.hpp>
#include <charnn/checksum.hpp>
#include <charnn/error.hpp>
#include <charnn/model.hpp>
#include <charnn/vocab.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>

#include "training_support.hpp"

using namespace charnn;
using charnn::test::builtin_plugins;
using charnn::test::read_file;
using charnn::test::ScratchDir;
using charnn::test::write_file;

namespace {

Vocab small_vocab() {
  UnitCounter counter(UnitKind::grapheme);
  counter.add_text("hello, world\n");
  return Vocab::build(counter, TextOptions{});
}

CheckpointData sample_data(const Vocab& vocab, Model& model) {
  CheckpointData d;
  d.vocab = vocab;
  store_model(model, d);
  d.optimizer.resize(2 * d.params.size());
  for (std::size_t i = 0; i < d.optimizer.size(); ++i) d.optimizer[i] = 1.0f / (1.0f + i);
  d.state = {1.5f, -2.25f, 3.0f};
  d.set("state.iteration", std::int64_t{1234});
  d.set("state.best_valid", 1.2345678901234567);
  d.set("text.with.newline", std::string("a=b\nc\\d"));
  return d;
}

// With --ema's sections as well: the trained weights, and an average one weight apart.
CheckpointData sample_data_with_average(const Vocab& vocab, Model& model) {
  CheckpointData d = sample_data(vocab, model);
  d.live = d.params;
  d.average = d.params;
  d.average[0] += 1.0f;
  return d;
}

std::unique_ptr<Model> small_model(const Vocab& vocab, std::vector<std::string> cells = {"lstm"}) {
  ModelConfig c;
  c.cells = std::move(cells);
  c.hidden = 6;
  c.vocab_size = vocab.size();
  c.dropout = 0.25f;
  auto m = std::make_unique<Model>(c, builtin_plugins());
  m->init_params(3);
  return m;
}

std::string u64_bytes(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// A whole format-1 file around a payload of sections without checksums (see checkpoint.hpp).
std::string envelope(const std::string& payload) {
  return std::string("CHARNNCK") + std::string("\x01\0\0\0\0\0\0\0", 8) +
         u64_bytes(payload.size()) + payload + u64_bytes(fnv1a64(payload.data(), payload.size()));
}

// Where each section of a format-2 file lies: its tag, and the offsets of its length field, its
// bytes and its checksum.
struct SectionSpan {
  std::string tag;
  std::size_t length_at = 0, bytes_at = 0, checksum_at = 0;
};
std::vector<SectionSpan> sections_of(const std::string& file) {
  std::vector<SectionSpan> out;
  std::size_t pos = 24;
  while (pos + 8 < file.size()) {
    SectionSpan s;
    s.tag = file.substr(pos, 4);
    s.length_at = pos + 4;
    std::uint64_t length = 0;
    std::memcpy(&length, file.data() + s.length_at, 8);
    s.bytes_at = pos + 12;
    s.checksum_at = s.bytes_at + length;
    out.push_back(s);
    pos = s.checksum_at + 8;
  }
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const charnn::error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a checkpoint round trip is bit-exact", "[checkpoint]") {
  ScratchDir dir("ckpt");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab, {"lstm", "elman"});
  const CheckpointData d = sample_data(vocab, *model);
  write_checkpoint(dir / "a.ckpt", d);
  const CheckpointData r = read_checkpoint(dir / "a.ckpt");
  CHECK(r.params == d.params);
  CHECK(std::memcmp(r.params.data(), d.params.data(), 4 * d.params.size()) == 0);
  CHECK(r.optimizer == d.optimizer);
  CHECK(r.state == d.state);
  CHECK(r.vocab == vocab);
  CHECK(r.model.cells == std::vector<std::string>{"lstm", "elman"});
  CHECK(r.model.hidden == 6);
  CHECK(r.model.dropout == 0.25f);
  CHECK(r.plugins.size() == 2);
  CHECK(r.plugins[1].name == "elman");
  CHECK(r.get_int("state.iteration") == 1234);
  CHECK(r.get_double("state.best_valid") == 1.2345678901234567);
  CHECK(r.get_string("text.with.newline") == "a=b\nc\\d");
  // Writing what was read gives the same bytes.
  write_checkpoint(dir / "b.ckpt", r);
  CHECK(read_file(dir / "a.ckpt") == read_file(dir / "b.ckpt"));
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  CHECK(files == 2);

  // load_model gives a model that predicts exactly as the original.
  LoadedModel loaded = load_model(dir / "a.ckpt", builtin_plugins());
  CHECK(loaded.file == dir / "a.ckpt");
  CHECK(loaded.vocab == vocab);
  std::vector<float> a(vocab.size()), b(vocab.size());
  auto s1 = model->zero_state(1), s2 = loaded.model->zero_state(1);
  const std::vector<std::int32_t> id = {2};
  model->step(id, s1, a.data());
  loaded.model->step(id, s2, b.data());
  CHECK(a == b);
}

TEST_CASE("a format-1 checkpoint (charnn before 2026-12-05) reads as it was written",
          "[checkpoint]") {
  ScratchDir dir("ckpt-format1");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab, {"gru"});
  const CheckpointData d = sample_data_with_average(vocab, *model);
  const std::string old = checkpoint_bytes(d, 1);
  CHECK(old[8] == 1);
  CHECK(checkpoint_bytes(d).size() == old.size() + 7 * 8);  // format 2: a checksum per section
  write_file(dir / "old.ckpt", old);
  for (const auto parts : {CheckpointParts::all, CheckpointParts::model}) {
    const CheckpointData r = read_checkpoint(dir / "old.ckpt", parts);
    CHECK(r.params == d.params);
    CHECK(r.vocab == vocab);
    CHECK(r.get_int("state.iteration") == 1234);
    CHECK(r.optimizer.empty() == (parts == CheckpointParts::model));
    if (parts == CheckpointParts::all) {
      CHECK(r.optimizer == d.optimizer);
      CHECK(r.state == d.state);
      CHECK(r.average == d.average);
    }
  }
  // Written again, it is format 2 with the same contents.
  write_checkpoint(dir / "new.ckpt", read_checkpoint(dir / "old.ckpt"));
  const std::string now = read_file(dir / "new.ckpt");
  CHECK(now[8] == 2);
  CHECK(now == checkpoint_bytes(d));
}

TEST_CASE("a model reader reads only HEAD, VOCB and PARM", "[checkpoint]") {
  ScratchDir dir("ckpt-parts");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  const CheckpointData d = sample_data_with_average(vocab, *model);
  write_checkpoint(dir / "a.ckpt", d);
  const CheckpointData m = read_checkpoint(dir / "a.ckpt", CheckpointParts::model);
  CHECK(m.params == d.params);
  CHECK(m.get_double("state.best_valid") == 1.2345678901234567);
  CHECK(m.optimizer.empty());
  CHECK(m.state.empty());
  CHECK(m.live.empty());
  CHECK(m.average.empty());
  const CheckpointData all = read_checkpoint(dir / "a.ckpt");
  CHECK(all.optimizer == d.optimizer);
  CHECK(all.state == d.state);
  CHECK(all.live == d.live);
  CHECK(all.average == d.average);
  // The same from bytes in memory (the root rank's start, sent to the other ranks).
  const CheckpointData mem = parse_checkpoint(checkpoint_bytes(d), "start");
  CHECK(mem.optimizer == d.optimizer);
  CHECK(mem.average == d.average);
}

TEST_CASE("checksum64 sees every change to one word, the length and the seed", "[checkpoint]") {
  std::string text(101, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 37 + 11);
  const std::uint64_t base = checksum64(text.data(), text.size());
  // Pinned: format-2 checkpoints hold these checksums, so the function may never change.
  CHECK(checksum64("charnn", 6) == 0x4b956578744b24a6ull);
  CHECK(checksum64(nullptr, 0) == 0xe7eabd4f59738c91ull);
  std::set<std::uint64_t> seen{base};
  for (std::size_t byte = 0; byte < text.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = text;
      t[byte] = static_cast<char>(t[byte] ^ (1 << bit));
      seen.insert(checksum64(t.data(), t.size()));
    }
  CHECK(seen.size() == 1 + 8 * text.size());
  // Zero padding of the last word is told apart by the length.
  CHECK(checksum64("ab", 2) != checksum64("ab\0", 3));
  CHECK(checksum64("", 0) != checksum64("\0", 1));
  // A seed chains calls and changes the result.
  CHECK(checksum64(text.data(), text.size(), 1) != base);
  CHECK(checksum64(text.data() + 40, 61, checksum64(text.data(), 40)) !=
        checksum64(text.data() + 41, 60, checksum64(text.data(), 41)));
}

TEST_CASE("every bad checkpoint is a one-line error naming the file", "[checkpoint]") {
  ScratchDir dir("ckpt-bad");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  write_checkpoint(dir / "good.ckpt", sample_data(vocab, *model));
  const std::string good = read_file(dir / "good.ckpt");
  auto expect = [&](const std::string& name, const std::string& bytes, const std::string& what) {
    write_file(dir / name, bytes);
    const std::string msg = error_of([&] { load_model(dir / name, builtin_plugins()); });
    INFO(name << ": " << msg);
    CHECK(msg.find((dir / name).string()) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  };
  SECTION("truncated anywhere") {
    for (std::size_t len : {std::size_t{0}, std::size_t{5}, std::size_t{20}, std::size_t{100},
                            good.size() / 2, good.size() - 1})
      expect("cut" + std::to_string(len) + ".ckpt", good.substr(0, len), "truncated");
  }
  SECTION("a flipped byte in any section read, its checksum or the trailer") {
    const auto sections = sections_of(good);
    REQUIRE(sections.size() == 5);  // HEAD VOCB PARM OPTM STAT
    for (const auto& sec : sections) {
      const bool model = sec.tag == "HEAD" || sec.tag == "VOCB" || sec.tag == "PARM";
      std::string bytes = good;
      const std::size_t at = (sec.bytes_at + sec.checksum_at) / 2;
      bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
      const std::string name = "flip-" + sec.tag + ".ckpt";
      write_file(dir / name, bytes);
      CHECK_THAT(error_of([&] { read_checkpoint(dir / name); }),
                 Catch::Contains("checksum mismatch in section " + sec.tag));
      // The model's readers never read the optimiser's sections: their damage is found by the
      // next resume or rollback, which reads them.
      if (model)
        expect(name, bytes, "checksum mismatch in section " + sec.tag);
      else
        CHECK(load_model(dir / name, builtin_plugins()).model->params().size() > 0);
      // A section's stored checksum is part of the section table.
      bytes = good;
      bytes[sec.checksum_at + 3] = static_cast<char>(bytes[sec.checksum_at + 3] ^ 0x01);
      expect("sum-" + sec.tag + ".ckpt", bytes, "checksum mismatch in the section table");
      // So is its length; a changed one also breaks the framing.
      bytes = good;
      bytes[sec.length_at] = static_cast<char>(bytes[sec.length_at] ^ 0x04);
      expect("length-" + sec.tag + ".ckpt", bytes, "corrupt");
    }
    std::string bytes = good;
    bytes[good.size() - 1] = static_cast<char>(bytes[good.size() - 1] ^ 0x80);
    expect("trailer.ckpt", bytes, "checksum mismatch in the section table");
    bytes = good;
    bytes[12] = 1;  // the reserved word: the preamble is in the table's checksum
    expect("reserved.ckpt", bytes, "checksum mismatch in the section table");
  }
  SECTION("a flipped byte anywhere in a format-1 payload") {
    CheckpointData d = sample_data(vocab, *model);
    const std::string old = checkpoint_bytes(d, 1);
    for (std::size_t at : {std::size_t{30}, old.size() / 3, old.size() - 9}) {
      std::string bad = old;
      bad[at] = static_cast<char>(bad[at] ^ 0x10);
      expect("flip1-" + std::to_string(at) + ".ckpt", bad, "checksum");
    }
  }
  SECTION("a foreign file") {
    expect("text.ckpt", "hello, this is not a checkpoint at all\n", "not a charnn checkpoint");
    expect("elf.ckpt",
           "\x7f"
           "ELF\x02\x01\x01" +
               std::string(100, '\0'),
           "not a charnn checkpoint");
  }
  SECTION("a future format version") {
    std::string future = good;
    future[8] = 3;
    expect("future.ckpt", future, "newer charnn");
  }
  SECTION("trailing garbage") {
    expect("long.ckpt", good + "xx", "unexpected bytes");
  }
  SECTION("a missing cell plugin") {
    CheckpointData d = sample_data(vocab, *model);
    d.model.cells = {"gru9"};
    d.plugins = {{"gru9", "3.1.4"}};
    write_checkpoint(dir / "gru.ckpt", d);
    const std::string msg = error_of([&] { load_model(dir / "gru.ckpt", builtin_plugins()); });
    CHECK_THAT(msg, Catch::Contains("gru9") && Catch::Contains("3.1.4") &&
                        Catch::Contains((dir / "gru.ckpt").string()));
    try {
      load_model(dir / "gru.ckpt", builtin_plugins());
    } catch (const charnn::error& e) {
      CHECK_THAT(e.hint(), Catch::Contains("--plugin"));
    }
  }
  SECTION("parameters that do not fit the plugin") {
    CheckpointData d = sample_data(vocab, *model);
    d.params.pop_back();
    write_checkpoint(dir / "short.ckpt", d);
    expect("short2.ckpt", read_file(dir / "short.ckpt"), "parameters");
  }
  SECTION("a payload size that would wrap around when added to") {
    // 24 to 31 bytes whose header promises 2^64 - 8 bytes of payload.
    for (std::size_t extra : {std::size_t{0}, std::size_t{7}})
      expect("wrap" + std::to_string(extra) + ".ckpt",
             good.substr(0, 16) + u64_bytes(~std::uint64_t{7}) + std::string(extra, 'x'),
             "truncated");
  }
  SECTION("a header whose sizes the parameters cannot hold") {
    CheckpointData d = sample_data(vocab, *model);
    d.model.hidden = 100000;  // would be ~160 GB of LSTM weights
    write_checkpoint(dir / "wide.ckpt", d);
    expect("wide2.ckpt", read_file(dir / "wide.ckpt"), "cannot fit");
    d.model.hidden = 20;  // fits the output layer, not the cells: counted, not allocated
    d.model.cells.assign(50, "lstm");
    d.plugins.assign(50, d.plugins.front());
    write_checkpoint(dir / "deep.ckpt", d);
    expect("deep2.ckpt", read_file(dir / "deep.ckpt"), "parameters");
  }
  SECTION("non-finite weights") {
    CheckpointData d = sample_data(vocab, *model);
    d.params[7] = std::numeric_limits<float>::quiet_NaN();
    write_checkpoint(dir / "nan.ckpt", d);
    expect("nan2.ckpt", read_file(dir / "nan.ckpt"), "parameter 7 is NaN");
    d.params[7] = -std::numeric_limits<float>::infinity();
    write_checkpoint(dir / "inf.ckpt", d);
    expect("inf2.ckpt", read_file(dir / "inf.ckpt"), "infinite");
  }
  SECTION("a missing file and a directory") {
    CHECK_THAT(error_of([&] { read_checkpoint(dir / "none.ckpt"); }),
               Catch::Contains("none.ckpt") && Catch::Contains("no such"));
    CHECK_THAT(error_of([&] { read_checkpoint(dir.path()); }), Catch::Contains("directory"));
  }
}

TEST_CASE("resolve_checkpoint finds files, run directories and runs/latest", "[checkpoint]") {
  ScratchDir dir("ckpt-resolve");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  const auto run = dir / "run";
  std::filesystem::create_directories(run);
  CHECK_THROWS_WITH(resolve_checkpoint(run, CheckpointChoice::best),
                    Catch::Contains("no best.ckpt or last.ckpt"));
  write_checkpoint(run / "last.ckpt", sample_data(vocab, *model));
  CHECK(resolve_checkpoint(run, CheckpointChoice::best) == run / "last.ckpt");  // fallback
  write_checkpoint(run / "best.ckpt", sample_data(vocab, *model));
  CHECK(resolve_checkpoint(run, CheckpointChoice::best) == run / "best.ckpt");
  CHECK(resolve_checkpoint(run, CheckpointChoice::last) == run / "last.ckpt");
  CHECK(resolve_checkpoint(run / "last.ckpt", CheckpointChoice::best) == run / "last.ckpt");
  CHECK_THROWS_WITH(resolve_checkpoint(dir / "nope", CheckpointChoice::best),
                    Catch::Contains("nope"));

  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const std::string none = error_of([] { resolve_checkpoint({}, CheckpointChoice::best); });
  std::filesystem::create_directories("runs");
  point_symlink("runs/latest", "../run");
  const auto found = resolve_checkpoint({}, CheckpointChoice::best);
  point_symlink("runs/latest", "../missing");  // re-pointing replaces the old link atomically
  const bool replaced = std::filesystem::read_symlink("runs/latest") == "../missing";
  std::filesystem::current_path(cwd);
  CHECK_THAT(none, Catch::Contains("runs/latest"));
  CHECK(found == std::filesystem::path("runs/latest/best.ckpt"));
  CHECK(replaced);
}

TEST_CASE("empty optional sections read as no optimiser state", "[checkpoint]") {
  ScratchDir dir("ckpt-empty");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  CheckpointData d;
  d.vocab = vocab;
  store_model(*model, d);
  const std::string good = checkpoint_bytes(d, 1);
  const std::string payload = good.substr(24, good.size() - 32) + "OPTM" + u64_bytes(0) +
                              "STAT" + u64_bytes(0);
  write_file(dir / "empty.ckpt", envelope(payload));
  const CheckpointData r = read_checkpoint(dir / "empty.ckpt");
  CHECK(r.optimizer.empty());
  CHECK(r.state.empty());
  CHECK(r.params == d.params);
}

TEST_CASE("the weight average's sections must hold one float per parameter", "[checkpoint]") {
  ScratchDir dir("ckpt-average");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  CheckpointData d = sample_data_with_average(vocab, *model);
  write_checkpoint(dir / "both.ckpt", d);
  const CheckpointData r = read_checkpoint(dir / "both.ckpt");
  CHECK(r.live == d.live);
  CHECK(r.average == d.average);
  // Readers use PARM, whatever the other two hold.
  CHECK(load_model(dir / "both.ckpt", builtin_plugins()).model->params()[0] == d.params[0]);

  d.average.pop_back();
  write_checkpoint(dir / "short.ckpt", d);
  const std::string msg = error_of([&] { read_checkpoint(dir / "short.ckpt"); });
  CHECK_THAT(msg, Catch::Contains((dir / "short.ckpt").string()) &&
                      Catch::Contains("section AVRG holds"));
}

TEST_CASE("a checkpoint whose cell plugin is missing names the plugin, its version and where "
          "charnn looked",
          "[checkpoint]") {
  ScratchDir dir("ckpt-missing-plugin");
  const Vocab vocab = small_vocab();
  auto model = small_model(vocab);
  CheckpointData d = sample_data(vocab, *model);
  d.plugins[0] = {"mycell", "2.1.0"};
  d.model.cells = {"mycell"};
  write_checkpoint(dir / "mine.ckpt", d);
  // The built-in cells found through CHARNN_PLUGIN_PATH, as a user's would be.
  const char* before = std::getenv("CHARNN_PLUGIN_PATH");
  const std::string saved = before ? before : "";
  ::setenv("CHARNN_PLUGIN_PATH", CHARNN_PLUGIN_DIR, 1);
  PluginSearch search;
  search.use_default_dir = false;
  const PluginRegistry reg = PluginRegistry::discover(search);
  if (before)
    ::setenv("CHARNN_PLUGIN_PATH", saved.c_str(), 1);
  else
    ::unsetenv("CHARNN_PLUGIN_PATH");
  const std::string msg = error_of([&] { load_model(dir / "mine.ckpt", reg); });
  CHECK_THAT(msg, Catch::Contains("needs the cell plugin 'mycell' (version 2.1.0)"));
  CHECK_THAT(msg, Catch::Contains("found: elman, gru, lstm"));
  CHECK_THAT(msg, Catch::Contains(std::string("searched ") + CHARNN_PLUGIN_DIR));
}
