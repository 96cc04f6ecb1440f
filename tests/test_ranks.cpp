// Training on several ranks (ranks.hpp, docs/multi-machine.md): how a batch is shared out, that
// shares trained apart add up to the batch (dropout included), and, on the real program under
// mpirun, 2 ranks against 1 process: the same losses and weights, a resume on 1 process that
// continues the same curve, SIGTERM to mpirun or to charnn train --ranks, and a rank killed
// outright.
#include <charnn/checkpoint.hpp>
#include <charnn/metrics_file.hpp>
#include <charnn/model.hpp>
#include <charnn/ranks.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "training_support.hpp"

using namespace charnn;
using namespace charnn::test;

namespace {

namespace fs = std::filesystem;

// (T, N) ids -> the (T, n) columns of one share.
std::vector<std::int32_t> columns(const std::vector<std::int32_t>& ids, std::int64_t T,
                                  const StreamShare& share) {
  std::vector<std::int32_t> out;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t k = 0; k < share.count; ++k)
      out.push_back(ids[static_cast<std::size_t>(t * share.total + share.first + k)]);
  return out;
}

// A state of N streams -> the share's streams.
Model::State state_share(const Model& model, const Model::State& whole, const StreamShare& share) {
  Model::State part = model.zero_state(share.count);
  const std::int64_t H = model.hidden();
  for (std::size_t l = 0; l < part.layers.size(); ++l) {
    const std::int64_t S = static_cast<std::int64_t>(part.layers[l].size()) / (share.count * H);
    for (std::int64_t s = 0; s < S; ++s)
      std::copy_n(whole.layers[l].begin() + (s * share.total + share.first) * H, share.count * H,
                  part.layers[l].begin() + s * share.count * H);
  }
  return part;
}

}  // namespace

TEST_CASE("a batch's streams are shared out contiguously, in rank order, evenly", "[ranks]") {
  for (const std::int64_t total : {1, 2, 5, 32, 33}) {
    for (int ranks = 1; ranks <= std::min<std::int64_t>(total, 7); ++ranks) {
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const StreamShare share = stream_share(total, r, ranks);
        INFO("total " << total << ", rank " << r << " of " << ranks);
        CHECK(share.first == next);
        CHECK(share.total == total);
        CHECK(share.count >= total / ranks);
        CHECK(share.count <= total / ranks + 1);
        next += share.count;
      }
      CHECK(next == total);
    }
  }
}

TEST_CASE(
    "shares of a batch trained apart, weighted by their streams, give the batch's loss, "
    "gradient and state, dropout included",
    "[ranks][model]") {
  ModelConfig mc;
  mc.cells = {"gru", "lstm"};
  mc.hidden = 8;
  mc.vocab_size = 7;
  mc.dropout = 0.3f;
  Model whole(mc, builtin_plugins()), part(mc, builtin_plugins());
  whole.init_params(3);
  part.init_params(3);
  const std::int64_t N = 5, T = 6;
  const std::vector<std::int32_t> inputs = random_ids(static_cast<std::size_t>(T * N), 7, 1);
  const std::vector<std::int32_t> targets = random_ids(inputs.size(), 7, 2);
  Model::State start = whole.zero_state(N);
  std::uint32_t seed = 10;
  for (auto& layer : start.layers) {
    const auto noise = random_ids(layer.size(), 200, seed++);
    for (std::size_t i = 0; i < layer.size(); ++i)
      layer[i] = static_cast<float>(noise[i] - 100) / 200.0f;
  }
  Model::State end = start;
  const double loss = whole.train_step(inputs, targets, T, end, 77);
  const std::vector<float> grads(whole.grads().begin(), whole.grads().end());

  double summed_loss = 0;
  std::vector<double> summed(grads.size(), 0.0);
  for (int r = 0; r < 2; ++r) {
    const StreamShare share = stream_share(N, r, 2);
    const double weight = static_cast<double>(share.count) / static_cast<double>(N);
    Model::State state = state_share(part, start, share);
    summed_loss += weight * part.train_step(columns(inputs, T, share), columns(targets, T, share),
                                            T, state, 77, {.first = share.first, .total = N});
    for (std::size_t i = 0; i < summed.size(); ++i) summed[i] += weight * part.grads()[i];
    const Model::State expected = state_share(whole, end, share);
    for (std::size_t l = 0; l < state.layers.size(); ++l)
      for (std::size_t i = 0; i < state.layers[l].size(); ++i)
        REQUIRE(state.layers[l][i] == Approx(expected.layers[l][i]).margin(1e-6));
  }
  CHECK(summed_loss == Approx(loss).epsilon(1e-6));
  double worst = 0, largest = 0;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    worst = std::max(worst, std::abs(summed[i] - grads[i]));
    largest = std::max(largest, static_cast<double>(std::abs(grads[i])));
  }
  INFO("largest gradient " << largest << ", worst difference " << worst);
  CHECK(largest > 1e-3);
  CHECK(worst <= 1e-6 * std::max(1.0, largest));

  // Masks drawn by the share's own stream numbers would be the first streams' masks: the second
  // share's loss then differs, so the agreement above is not dropout's doing.
  const StreamShare second = stream_share(N, 1, 2);
  Model::State a = state_share(part, start, second), b = a;
  const double placed = part.train_step(columns(inputs, T, second), columns(targets, T, second), T,
                                        a, 77, {.first = second.first, .total = N});
  const double unplaced =
      part.train_step(columns(inputs, T, second), columns(targets, T, second), T, b, 77);
  CHECK(placed != Approx(unplaced).epsilon(1e-6));
}

namespace {

std::string mpirun_path() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "mpirun";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

// Why the program's ranks cannot be tried here ("" when they can).
std::string no_ranks_here() {
  if (!mpi_built()) return "this build has no MPI (libopenmpi-dev was not found)";
  if (mpirun_path().empty()) return "no mpirun on the PATH (openmpi-bin)";
  return {};
}

std::string exe() {
  return quote(CHARNN_EXE);
}

// mpirun as docs/multi-machine.md runs it on these machines.
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun -np " +
         std::to_string(ranks) + " --bind-to none --oversubscribe " + exe();
}

// A small GRU with dropout and the weight average, one thread per process, a constant rate (so a
// shorter --max-iters does not change the schedule), validating every 25 iterations.
std::string train_args(const fs::path& corpus, const fs::path& out, int iterations) {
  return " train " + quote(corpus) +
         " --cell gru --layers 2 --hidden 24 --batch 6 --seq-len 16 --dropout 0.3 --lr 0.005 "
         "--lr-schedule constant --warmup 5 --eval-every 25 --eval-units 0 --log-every 5 "
         "--split 0.8,0.2,0 --threads 1 --precision f32 --progress plain --random-seed 7 "
         "--max-iters " +
         std::to_string(iterations) + " --out " + quote(out);
}

struct Curve {
  std::vector<std::int64_t> iterations;
  std::vector<double> losses;  // each row's training loss, then its validation, when it has them
};

Curve curve(const fs::path& run) {
  const MetricsFile m = read_metrics_file(run / "metrics.csv");
  REQUIRE(m.problem.empty());
  Curve c;
  for (const auto& row : m.rows)
    for (const double loss : {row.train_loss, row.valid_loss})
      if (!std::isnan(loss)) {
        c.iterations.push_back(row.iteration);
        c.losses.push_back(loss);
      }
  return c;
}

double worst_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}

void check_same_curve(const Curve& a, const Curve& b) {
  REQUIRE(a.iterations == b.iterations);
  for (std::size_t i = 0; i < a.losses.size(); ++i) {
    INFO("row " << i << " (iteration " << a.iterations[i] << ")");
    CHECK(a.losses[i] == Approx(b.losses[i]).epsilon(1e-4));
  }
}

}  // namespace

TEST_CASE("2 ranks train the model 1 process trains, and 1 process resumes their run",
          "[ranks][cli]") {
  if (const std::string why = no_ranks_here(); !why.empty()) {
    WARN("skipped: " << why);
    return;
  }
  const ScratchDir dir("ranks-exact");
  const fs::path corpus = dir / "corpus.txt";
  write_file(corpus, repeating_corpus(12000) + "Some other text, with Capitals (and marks)!\n");
  std::string out;
  REQUIRE(run_command(exe() + train_args(corpus, dir / "one", 50), out) == 0);
  const int code = run_command(mpirun(2) + train_args(corpus, dir / "two", 50), out);
  INFO(out);
  REQUIRE(code == 0);
  CHECK_THAT(out, Catch::Contains("2 ranks x 1 thread, global batch 6 (3 streams per rank)"));

  // The same curve to float tolerance: only the order of the gradient sums differs.
  check_same_curve(curve(dir / "one"), curve(dir / "two"));
  const CheckpointData one = read_checkpoint(dir / "one" / "last.ckpt");
  const CheckpointData two = read_checkpoint(dir / "two" / "last.ckpt");
  const double params = worst_difference(one.params, two.params);
  const double state = worst_difference(one.state, two.state);
  WARN("2 ranks against 1 process after 50 iterations: parameters differ by at most "
       << params << ", the carried state by " << state);
  CHECK(params < 1e-4);
  CHECK(state < 1e-4);
  CHECK(one.get_string("state.iteration") == two.get_string("state.iteration"));

  // 25 iterations on 2 ranks, 25 more on 1 process: the 1-process curve again.
  REQUIRE(run_command(mpirun(2) + train_args(corpus, dir / "half", 25), out) == 0);
  REQUIRE(run_command(exe() + " train --resume " + quote(dir / "half") +
                          " --max-iters 50 --threads 1 --progress plain",
                      out) == 0);
  check_same_curve(curve(dir / "one"), curve(dir / "half"));
  const CheckpointData resumed = read_checkpoint(dir / "half" / "last.ckpt");
  CHECK(worst_difference(one.params, resumed.params) < 1e-4);
}

TEST_CASE(
    "under mpirun, SIGTERM saves one checkpoint and exits 143; a killed rank ends the job "
    "and the run resumes",
    "[ranks][cli][reliability]") {
  if (const std::string why = no_ranks_here(); !why.empty()) {
    WARN("skipped: " << why);
    return;
  }
  const ScratchDir dir("ranks-faults");
  const fs::path corpus = dir / "corpus.txt";
  write_file(corpus, repeating_corpus(12000));
  std::string out;
  // Waits (up to 60 s) for a file of the run, then signals: mpirun itself, or one rank (found
  // by its command line, which starts with the program's path; mpirun's does not). Without
  // rollbacks: the repeating text stops improving soon, and they would end the run first.
  const auto run_and_signal = [&](const fs::path& run, const std::string& wait_for,
                                  const std::string& kill, bool ranks_option = false) {
    return run_command("cd " + quote(dir.path()) + " && { " + (ranks_option ? exe() : mpirun(2)) +
                           train_args(corpus, run, 1000000) + " --time 2m --rollback 0" +
                           (ranks_option ? " --ranks 2" : "") + " & pid=$!; " +
                           "for i in $(seq 600); do [ -e " + quote(run / wait_for) +
                           " ] && break; sleep 0.1; done; sleep 0.5; " + kill + "; wait $pid; }",
                       out);
  };

  // Signalled itself, mpirun forwards SIGTERM to the ranks, which checkpoint and exit 143, but
  // mpirun then exits 1 (Open MPI 4.1); signalled directly, the ranks make mpirun exit 143.
  SECTION("SIGTERM to the ranks") {
    const int code =
        run_and_signal(dir / "ranks", "metrics.csv",
                       "pkill -TERM -f " + quote("^" + std::string(CHARNN_EXE) + " train .*ranks"));
    INFO(out);
    CHECK(code == 143);
    CHECK_THAT(out, Catch::Contains("terminated (SIGTERM) at iteration"));
    CHECK(read_checkpoint(dir / "ranks" / "last.ckpt").get_int("state.iteration") > 0);
  }
  SECTION("SIGTERM to mpirun") {
    const int code = run_and_signal(dir / "term", "metrics.csv", "kill -TERM $pid");
    INFO(out);
    CHECK(code != 0);
    CHECK_THAT(out, Catch::Contains("terminated (SIGTERM) at iteration"));
    const CheckpointData last = read_checkpoint(dir / "term" / "last.ckpt");
    CHECK(last.get_int("state.iteration") > 0);
    REQUIRE(run_command(exe() + " train --resume " + quote(dir / "term") + " --max-iters " +
                            std::to_string(last.get_int("state.iteration") + 5) + " --threads 1",
                        out) == 0);
  }
  // --ranks runs mpirun as a child and passes the signal on to the ranks themselves.
  SECTION("SIGTERM to charnn train --ranks") {
    const int code = run_and_signal(dir / "launched", "metrics.csv", "kill -TERM $pid", true);
    INFO(out);
    CHECK(code == 143);
    CHECK_THAT(out, Catch::Contains("terminated (SIGTERM) at iteration"));
    CHECK(read_checkpoint(dir / "launched" / "last.ckpt").get_int("state.iteration") > 0);
  }
  SECTION("SIGKILL to one rank") {
    const fs::path run = dir / "killed";
    const int code = run_and_signal(
        run, "last.ckpt",
        "pkill -KILL -n -f " + quote("^" + std::string(CHARNN_EXE) + " train .*killed"));
    INFO(out);
    CHECK(code != 0);
    const CheckpointData last = read_checkpoint(run / "last.ckpt");
    const std::int64_t at = last.get_int("state.iteration");
    CHECK(at > 0);
    REQUIRE(run_command(exe() + " train --resume " + quote(run) + " --max-iters " +
                            std::to_string(at + 5) + " --threads 1",
                        out) == 0);
    CHECK(read_checkpoint(run / "last.ckpt").get_int("state.iteration") == at + 5);
  }
}

TEST_CASE("--ranks is refused where it cannot work, saying why", "[ranks][cli]") {
  const ScratchDir dir("ranks-refused");
  const fs::path corpus = dir / "corpus.txt";
  write_file(corpus, repeating_corpus(3000));
  std::string out;
  CHECK(run_command(exe() + " train " + quote(corpus) + " --ranks 0", out) == 2);
  CHECK_THAT(out, Catch::Contains("--ranks must be at least 1"));
  // Already started by mpirun: --ranks would start mpirun again inside it.
  CHECK(run_command("OMPI_COMM_WORLD_SIZE=2 " + exe() + " train " + quote(corpus) + " --ranks 2",
                    out) == 2);
  CHECK_THAT(out, Catch::Contains("already one of mpirun's"));
  if (!mpi_built()) {
    CHECK(run_command(exe() + " train " + quote(corpus) + " --ranks 2", out) == 1);
    CHECK_THAT(out, Catch::Contains("built without MPI"));
    // mpirun -np 2 of this build would train two models into one directory.
    CHECK(run_command("OMPI_COMM_WORLD_SIZE=2 " + exe() + " train " + quote(corpus) +
                          " --max-iters 1 --out " + quote(dir / "run"),
                      out) == 1);
    CHECK_THAT(out, Catch::Contains("built without MPI"));
    CHECK_FALSE(fs::exists(dir / "run"));
  }
}
