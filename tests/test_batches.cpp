// Batches: N contiguous streams, T steps per segment, targets one unit ahead, streams that
// continue across segments (so carried state is meaningful), epoch offsets, and positions.
#include <charnn/batches.hpp>
#include <charnn/error.hpp>

#include <catch2/catch.hpp>

#include <numeric>
#include <set>
#include <vector>

using charnn::Batches;
using charnn::DataPosition;

TEST_CASE("segments continue each stream and targets are one unit ahead", "[batches]") {
  std::vector<std::int32_t> ids(1000);
  std::iota(ids.begin(), ids.end(), 0);  // id == position, so positions can be read back
  const std::int64_t N = 4, T = 10;
  Batches b(ids, N, T, 7);
  CHECK(b.stream_length() == 249);
  CHECK(b.segments_per_epoch() == 24);  // (249 - 10 + 1) / 10
  std::vector<std::int32_t> in(T * N), out(T * N), prev_in(T * N);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    const std::int64_t offset = b.offset(epoch);
    CHECK(offset >= 0);
    CHECK(offset < T);
    if (epoch == 0) CHECK(offset == 0);
    for (std::int64_t s = 0; s < b.segments_per_epoch(); ++s) {
      b.fill({epoch, s}, in.data(), out.data());
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t n = 0; n < N; ++n) {
          const auto i = in[t * N + n];
          REQUIRE(out[t * N + n] == i + 1);
          REQUIRE(i == n * 249 + offset + s * T + t);  // stream n stays in its own stripe
          REQUIRE(i + 1 <= (n + 1) * 249);
        }
      if (s > 0)
        for (std::int64_t n = 0; n < N; ++n)  // the next segment picks up where this one ended
          REQUIRE(in[n] == prev_in[(T - 1) * N + n] + 1);
      prev_in = in;
    }
  }
}

TEST_CASE("positions advance and wrap into the next epoch", "[batches]") {
  std::vector<std::int32_t> ids(200, 1);
  Batches b(ids, 2, 10, 1);
  DataPosition p;
  std::int64_t steps = 0;
  while (p.epoch == 0) {
    p = b.next(p);
    ++steps;
  }
  CHECK(steps == b.segments_per_epoch());
  CHECK(p.segment == 0);
  CHECK(b.epoch_fraction({1, b.segments_per_epoch() / 2}) ==
        Approx(1.0 + static_cast<double>(b.segments_per_epoch() / 2) / b.segments_per_epoch()));
}

TEST_CASE("epoch offsets depend on the seed and vary between epochs", "[batches]") {
  std::vector<std::int32_t> ids(5000, 0);
  Batches a(ids, 3, 50, 1), b(ids, 3, 50, 2);
  std::set<std::int64_t> seen;
  bool differ = false;
  for (std::int64_t e = 1; e < 20; ++e) {
    seen.insert(a.offset(e));
    differ |= a.offset(e) != b.offset(e);
    CHECK(a.offset(e) == Batches(ids, 3, 50, 1).offset(e));  // deterministic
  }
  CHECK(seen.size() > 5);
  CHECK(differ);
}

TEST_CASE("a corpus too short for the batch shape is a clear error", "[batches]") {
  std::vector<std::int32_t> ids(100, 0);
  CHECK_THROWS_WITH(Batches(ids, 32, 50, 1), Catch::Contains("100 units") &&
                                                 Catch::Contains("--batch 32") &&
                                                 Catch::Contains("1601"));
  CHECK_THROWS_AS(Batches(ids, 0, 5, 1), charnn::error);
  CHECK_NOTHROW(Batches(ids, 9, 10, 1));  // (99 / 9 = 11) >= 10
}
