// charnn sample: continues a seed text with a trained model and streams the result to stdout.
// Thin: options -> SamplingPolicy / SampleOptions, the library's Sampler does the work. Output
// goes through a small writer on file descriptor 1 so that a reader closing the pipe early
// (`| head`) ends the command quietly instead of with SIGPIPE or an error.
#include <charnn/beam_search.hpp>
#include <charnn/checkpoint.hpp>
#include <charnn/error.hpp>
#include <charnn/json.hpp>
#include <charnn/model.hpp>
#include <charnn/plugin_registry.hpp>
#include <charnn/sample_session.hpp>
#include <charnn/sampler.hpp>
#include <charnn/step_precision.hpp>
#include <charnn/text.hpp>
#include <charnn/threads.hpp>
#include <charnn/vocab.hpp>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "model_options.hpp"

namespace charnn::app {

namespace {

// Thrown when the reader of stdout has gone (EPIPE); the command then exits 0 quietly: a reader
// that stopped reading got what it wanted. Any other write error (a full disk) is an error.
struct OutputClosed {};

// Buffered writes to stdout. On a terminal every unit is shown at once; into a pipe or file
// the text is written in blocks, but at least every 100 ms so `| tee` still streams.
class Output {
 public:
  Output() : interactive_(::isatty(STDOUT_FILENO) == 1), last_(Clock::now()) {
    buf_.reserve(1 << 13);
  }
  bool interactive() const { return interactive_; }
  void write(std::string_view s) {
    buf_ += s;
    if (!s.empty()) last_char_ = s.back();
  }
  // Called after each unit of streamed text.
  void maybe_flush() {
    if (interactive_ || buf_.size() >= 4096 ||
        Clock::now() - last_ > std::chrono::milliseconds(100))
      flush();
  }
  void flush() {
    std::size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(STDOUT_FILENO, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EPIPE) throw OutputClosed{};
      if (n <= 0)
        throw charnn::error(std::string("cannot write the samples to standard output: ") +
                                (n < 0 ? std::strerror(errno) : "nothing was written"),
                            "the text is incomplete; free space where the output goes, or "
                            "redirect it elsewhere");
      done += static_cast<std::size_t>(n);
    }
    buf_.clear();
    last_ = Clock::now();
  }
  char last_char() const { return last_char_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool interactive_;
  Clock::time_point last_;
  std::string buf_;
  char last_char_ = '\n';
};

// "-" is standard input.
std::string read_seed_file(const std::string& file) {
  if (file == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    if (std::cin.bad()) throw charnn::error("cannot read the seed from standard input");
    return ss.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw charnn::error("cannot read the seed file " + file + ": " + std::strerror(errno),
                        "check the path given to --seed-file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

FloatJson policy_json(const SamplingPolicy& p) {
  FloatJson j;
  j["temperature"] = p.temperature;
  j["top_k"] = p.top_k ? FloatJson(*p.top_k) : FloatJson(nullptr);
  j["top_p"] = p.top_p;
  j["greedy"] = p.is_greedy();
  return j;
}

// The whole --json output: the run's settings and every sample with its probabilities.
std::string samples_json(const std::filesystem::path& checkpoint, const PreparedSeed& seed,
                         const SampleOptions& opts, const std::vector<Sample>& samples,
                         const Vocab& vocab) {
  FloatJson doc;
  doc["checkpoint"] = checkpoint.string();
  doc["seed"] = seed.text;
  doc["random_seed"] = opts.random_seed;
  doc["policy"] = policy_json(opts.policy);
  doc["length"] = opts.length;
  doc["stop"] = opts.stop.empty() ? FloatJson(nullptr) : FloatJson(opts.stop);
  doc["samples"] = FloatJson::array();
  // The library writes each sample; reading it back keeps one document and one writer.
  for (const auto& s : samples) doc["samples"].push_back(FloatJson::parse(sample_json(s, vocab)));
  return json_text(doc) + "\n";
}

// Writes the samples as text while they are generated: one stream unit by unit, several each
// when complete, in sample order.
void stream_samples(Sampler& sampler, const PreparedSeed& seed, const SampleOptions& opts,
                    bool print_seed, Output& out) {
  SampleCallbacks callbacks;
  if (opts.count == 1) {
    // One stream: the seed now, then every unit as it comes.
    if (print_seed) out.write(seed.text);
    out.flush();
    callbacks.on_unit = [&](std::int64_t, std::string_view unit) {
      out.write(unit);
      out.maybe_flush();
    };
  } else {
    // Several streams: each sample when complete, in sample order (a sample that stops early
    // waits for the ones before it, so the output order never depends on the text).
    std::map<std::int64_t, std::string> pending;
    std::int64_t next = 0;
    callbacks.on_finished = [&, pending, next](std::int64_t n, const Sample& s) mutable {
      std::string block = "--- sample " + std::to_string(n + 1) + "/" + std::to_string(opts.count) +
                          " ---\n" + (print_seed ? seed.text : std::string()) + s.text;
      if (block.back() != '\n') block += '\n';
      pending.emplace(n, std::move(block));
      for (auto it = pending.find(next); it != pending.end(); it = pending.find(++next)) {
        out.write(it->second);
        pending.erase(it);
      }
      out.flush();
    };
  }
  sampler.run(seed, opts, callbacks);
  // A terminal gets a final line break so the prompt does not follow the text on its line;
  // a pipe or file receives exactly the text.
  if (opts.count == 1 && out.interactive() && out.last_char() != '\n') out.write("\n");
}

// --interactive: the seed's turn (when there is a seed), then one turn per line of standard
// input. A terminal already shows what was typed, so each turn writes only its continuation, and
// a line break after it when it did not end with one (not fed to the model).
int run_turns(Model& model, const Vocab& vocab, const PreparedSeed& seed, const SampleOptions& opts,
              UnknownUnits unknown, bool print_seed) {
  SampleSession session(model, vocab, opts.policy, opts.random_seed);
  Output out;
  const auto turn = [&](const PreparedSeed& text) {
    session.turn(text, opts.length, opts.stop, [&](std::string_view unit) {
      out.write(unit);
      out.maybe_flush();
    });
    if (out.last_char() != '\n') out.write("\n");
    out.flush();
  };
  try {
    if (!seed.text.empty()) {
      if (print_seed) out.write(seed.text);
      turn(seed);
    }
    if (::isatty(STDIN_FILENO) == 1)
      std::cerr << "charnn sample: type text and press Enter; the model continues it (Ctrl-D "
                   "ends)\n";
    std::string line;
    for (std::int64_t n = 1; std::getline(std::cin, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      PreparedSeed text;
      try {
        text = prepare_seed(unescape_cli(line), vocab, unknown, "line " + std::to_string(n));
      } catch (const charnn::error& e) {  // one bad line does not end the session
        std::cerr << "charnn sample: " << e.what() << "\n  hint: " << e.hint() << "\n";
        continue;
      }
      turn(text);
    }
  } catch (const OutputClosed&) {
    return 0;
  }
  return 0;
}

// --beam: one deterministic text, written whole (a beam's best line is known only at the end),
// with its likelihood under the model on stderr or in the JSON.
int write_beam(Model& model, const Vocab& vocab, const std::filesystem::path& checkpoint,
               const PreparedSeed& seed, const BeamOptions& options, bool json, bool print_seed) {
  const BeamResult r = beam_search(model, vocab, seed, options);
  const auto units = static_cast<double>(r.ids.size());
  const double bits = units > 0 ? r.nats / units / std::log(2.0) : 0;
  Output out;
  try {
    if (json) {
      Json doc;
      doc["checkpoint"] = checkpoint.string();
      doc["seed"] = seed.text;
      doc["beam"] = options.width;
      doc["length_penalty"] = options.length_penalty;
      doc["no_repeat"] = options.no_repeat;
      doc["length"] = options.length;
      doc["stop"] = options.stop.empty() ? Json(nullptr) : Json(options.stop);
      doc["text"] = r.text;
      doc["units"] = r.ids.size();
      doc["nats"] = r.nats;
      doc["bits_per_unit"] = bits;
      doc["stopped"] = r.stopped;
      doc["from_greedy"] = r.from_greedy;
      out.write(json_text(doc) + "\n");
    } else {
      out.write((print_seed ? seed.text : std::string()) + r.text);
      if (out.interactive() && out.last_char() != '\n') out.write("\n");
    }
    out.flush();
  } catch (const OutputClosed&) {
    return 0;
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "charnn sample: beam %lld: %lld units, %.4f bits per unit under the model%s%s\n",
                static_cast<long long>(options.width), static_cast<long long>(r.ids.size()), bits,
                r.stopped ? ", ended by --stop" : "",
                r.from_greedy && options.width > 1 ? " (the greedy line scored best)" : "");
  std::cerr << line;
  return 0;
}

// The command line of charnn sample; defaults from the library's SampleOptions and
// SamplingPolicy.
struct SampleFlags {
  std::string seed_text, seed_file, stop, unknown = to_string(UnknownUnits::error);
  std::string precision = "auto";
  std::uint64_t random_seed = SampleOptions{}.random_seed;
  std::int64_t length = SampleOptions{}.length, count = SampleOptions{}.count;
  float temperature = SamplingPolicy{}.temperature, top_p = SamplingPolicy{}.top_p;
  std::int32_t top_k = 0;
  std::int64_t beam = 0;
  double length_penalty = BeamOptions{}.length_penalty;
  std::int64_t no_repeat = BeamOptions{}.no_repeat;
  ModelFlags model;
};

void add_sample_options(po::options_description& options, SampleFlags& f) {
  options.add_options()("seed,s", po::value(&f.seed_text)->value_name("TEXT"),
                        "text to continue (may be empty; default: empty)")(
      "seed-file", po::value(&f.seed_file)->value_name("FILE"),
      "read the seed text from FILE (- = standard input)")(
      "random-seed", po::value(&f.random_seed)->value_name("N"),
      "seed of the random draws (default: a fresh one, reported on stderr)")(
      "length,n", po::value(&f.length)->default_value(f.length)->value_name("UNITS"),
      "units to generate per sample, in the model's units (grapheme clusters by default)")(
      "count,c", po::value(&f.count)->default_value(f.count)->value_name("N"),
      "number of samples, generated together as parallel streams")(
      "stop", po::value(&f.stop)->value_name("STRING"),
      "end a sample once it ends with STRING (kept in the output); \\n and \\t are understood, "
      "e.g. --stop '\\n\\n' ends at a blank line")(
      "temperature,t", po::value(&f.temperature)->default_value(f.temperature)->value_name("T"),
      "divide the scores by T: < 1 more conservative, > 1 more surprising, 0 = greedy")(
      "top-k", po::value(&f.top_k)->value_name("K"), "draw only from the K most probable units")(
      "top-p", po::value(&f.top_p)->default_value(f.top_p)->value_name("P"),
      "nucleus sampling: draw from the smallest set of most probable units whose probability "
      "reaches P, in (0, 1]")("greedy", "always take the most probable unit (no randomness)")(
      "unknown", po::value(&f.unknown)->default_value(f.unknown)->value_name("error|skip|map"),
      "seed units not in the vocabulary: error lists them, skip drops them, map reads them as "
      "the vocabulary's unknown symbol")(
      "beam", po::value(&f.beam)->value_name("K"),
      "beam search instead of drawing: the most likely continuation the model finds keeping K "
      "hypotheses at each step, under --no-repeat (deterministic; the greedy line under the same "
      "rule is always a candidate, so the result is never less likely than it); stderr reports "
      "its bits per unit under the model")(
      "length-penalty",
      po::value(&f.length_penalty)->default_value(f.length_penalty)->value_name("A"),
      "with --beam and --stop: hypotheses of different lengths compete by log p / units^A "
      "(0 = total likelihood, which favours short texts; 1 = likelihood per unit)")(
      "no-repeat", po::value(&f.no_repeat)->default_value(f.no_repeat)->value_name("N"),
      "with --beam: no sequence of N units may occur twice in the continuation (0 = off: the "
      "most likely text, which for a character model loops, e.g. \"the countess, and the "
      "countess, and ...\")")(
      "interactive,i",
      "after the seed (if any), read lines from standard input: each line is fed to the model, "
      "which continues it for --length units or until --stop; the state carries over, so each "
      "turn continues everything so far. \\n in a line is a line break; Ctrl-D ends")(
      "no-seed", "write only the continuation, not the seed before it")(
      "json",
      "write JSON instead of text: every sample with each unit's probability under the model "
      "(p) and under the sampling policy (q)")(
      "precision",
      po::value(&f.precision)->default_value(f.precision)->value_name("auto|f32|bf16|int8"),
      "weights of the sampling step: f32 keeps them exact; bf16 rounds them to bfloat16 (about "
      "2x faster than f32; scores move by ~0.1%, so a draw between two nearly equally likely "
      "units may differ); int8 quantises weights and inputs to 8 bits (about 1.5x faster than "
      "bf16, a few times its error); auto is int8 where the CPU has fast int8 (AVX512 VNNI) and "
      "a 256-unit probe at start-up shows the model's predictions move by at most 0.01 nats per "
      "unit (stderr says what it measured), else bf16 where the CPU has "
      "AVX512_BF16, else f32; a bf16 or int8 given where the CPU lacks it steps in what it has, "
      "and stderr says so. Each gives the same text for a --random-seed whatever --threads is");
  add_model_options(
      options, f.model,
      "threads for the model; 0 = choose between 1 and every core while sampling, by timing "
      "the steps (one stream is faster on one core when the others are busy); the text is the "
      "same whatever the count");
}

const CommandHelp kHelp{
    "sample", "charnn sample [options]",
    "Continues a seed text with a trained model and writes it to stdout as it is generated.\n"
    "The output is the seed followed by the continuation (as char-rnn prints it; --no-seed\n"
    "writes only the continuation). The seed is cleaned exactly as the training corpus was\n"
    "(NFC, line ends); an empty seed starts from the model's zero state as if at the start of\n"
    "a line (the first input is a line break when the vocabulary has one, else its most\n"
    "frequent unit; it is not printed). With --count N the samples run together as N parallel\n"
    "streams and each is written when it is complete, under a '--- sample i/N ---' line.\n"
    "The same --random-seed gives the same text whatever --threads is. The checkpoint used and\n"
    "the random seed are reported on stderr.",
    "charnn sample --seed \"The prince\" --length 300 --temperature 0.8 --random-seed 7"};

}  // namespace

int run_sample(const std::vector<std::string>& args) {
  SampleFlags f;
  po::options_description options("Options");
  add_sample_options(options, f);
  po::variables_map vm;
  if (!parse_options(kHelp, options, {}, args, vm)) return 0;

  if (vm.count("seed") && vm.count("seed-file"))
    throw charnn::error("--seed and --seed-file exclude each other", "give one of them", 2);
  if (vm.count("beam"))
    for (const char* flag : {"greedy", "temperature", "top-k", "top-p", "count", "random-seed"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw charnn::error(std::string("--beam and --") + flag + " exclude each other",
                            "--beam searches for the one most likely continuation; it draws "
                            "nothing at random",
                            2);
  if (!vm.count("beam"))
    for (const char* flag : {"no-repeat", "length-penalty"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw charnn::error(std::string("--") + flag + " works with --beam",
                            "add --beam K (--beam 1 is greedy decoding)", 2);
  if (vm.count("interactive"))
    for (const char* flag : {"count", "json", "beam"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw charnn::error(std::string("--interactive and --") + flag + " exclude each other",
                            "--interactive continues one text, turn by turn", 2);
  if (vm.count("interactive") && f.seed_file == "-")
    throw charnn::error("--interactive reads its lines from standard input",
                        "give the seed with --seed or a --seed-file that is a file", 2);
  if (vm.count("greedy"))
    for (const char* flag : {"temperature", "top-k", "top-p"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw charnn::error(std::string("--greedy and --") + flag + " exclude each other",
                            "--greedy always takes the most probable unit", 2);
  SamplingPolicy policy;
  policy.temperature = f.temperature;
  if (vm.count("top-k")) policy.top_k = f.top_k;
  policy.top_p = f.top_p;
  policy.greedy = vm.count("greedy") > 0;
  policy.validate();
  const UnknownUnits unknown_policy = parse_unknown_units(f.unknown);
  const StepPrecision step_precision = parse_step_precision(f.precision);
  if (f.count < 1)
    throw charnn::error("--count " + std::to_string(f.count) + " is not allowed",
                        "ask for at least 1 sample");
  if (f.length < 0)
    throw charnn::error("--length " + std::to_string(f.length) + " is not allowed",
                        "ask for 0 or more units");
  // A fresh seed is kept to 32 bits so that the one reported on stderr is easy to retype.
  if (!vm.count("random-seed")) f.random_seed = std::random_device{}();
  const bool json = vm.count("json") > 0;
  const bool print_seed = !vm.count("no-seed");

  // A closed pipe must surface as a failed write (handled quietly), not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Before the model makes its first oneDNN kernel: the cap is process-wide and set once.
  const std::int64_t rows = vm.count("beam") ? f.beam : vm.count("interactive") ? 1 : f.count;
  const bool avx512 = avoid_amx_for_few_rows(rows);
  LoadedModel loaded = open_model(f.model, vm);
  const Vocab& vocab = loaded.vocab;

  const std::string raw_seed = vm.count("seed-file") ? read_seed_file(f.seed_file) : f.seed_text;
  const PreparedSeed seed =
      prepare_seed(raw_seed, vocab, unknown_policy, vm.count("seed-file") ? f.seed_file : "--seed");
  report_unknown_units("sample", unknown_policy, seed.unknown_count, seed.unknown, "seed unit(s)");

  SampleOptions opts;
  opts.length = f.length;
  opts.count = f.count;
  opts.policy = policy;
  opts.random_seed = f.random_seed;
  opts.record_probabilities = json;
  opts.tune_threads = f.model.threads <= 0;
  if (!f.stop.empty()) opts.stop = clean_text(unescape_cli(f.stop), vocab.text_options(), "--stop");

  // The real file, not runs/latest/...: the link moves on with the next training run.
  std::error_code ec;
  const std::filesystem::path used = std::filesystem::canonical(loaded.file, ec);
  // Prepared once here (not by the Sampler) so that stderr can say which precision is used.
  const std::string step_path = prepare_step_path(*loaded.model, step_precision);
  opts.precision = std::nullopt;
  std::cerr << "charnn sample: checkpoint " << (ec ? loaded.file : used).string() << ", "
            << (vm.count("beam")
                    ? "beam " + std::to_string(f.beam)
                    : policy.describe() + ", random seed " + std::to_string(f.random_seed))
            << ", step weights " << step_path
            << (avx512 ? " (AVX-512 kernels: AMX's are slower for " + std::to_string(rows) +
                             (rows == 1 ? " row)" : " rows)")
                       : std::string())
            << "\n";

  if (vm.count("interactive"))
    return run_turns(*loaded.model, vocab, seed, opts, unknown_policy, print_seed);
  if (vm.count("beam")) {
    BeamOptions beam;
    beam.width = f.beam;
    beam.length = f.length;
    beam.length_penalty = f.length_penalty;
    beam.no_repeat = f.no_repeat;
    beam.stop = opts.stop;
    beam.precision = std::nullopt;  // prepared above
    return write_beam(*loaded.model, vocab, loaded.file, seed, beam, json, print_seed);
  }

  Output out;
  Sampler sampler(*loaded.model, vocab);
  try {
    if (json) {
      const auto samples = sampler.run(seed, opts);
      out.write(samples_json(loaded.file, seed, opts, samples, vocab));
      out.flush();
      return 0;
    }
    stream_samples(sampler, seed, opts, print_seed, out);
    out.flush();
  } catch (const OutputClosed&) {
    return 0;
  }
  return 0;
}

}  // namespace charnn::app
