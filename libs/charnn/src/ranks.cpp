// The ranks of a training job over MPI, or one rank without it. See ranks.hpp.
#include "charnn/ranks.hpp"

#include <charnn/error.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#ifdef CHARNN_WITH_MPI
// The C interface only: mpi.h would otherwise pull in the deprecated C++ bindings, which need
// libmpi_cxx at link time.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace charnn {

bool mpi_built() {
#ifdef CHARNN_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpirun() {
  // Open MPI's mpirun sets the first; PMIx launchers (Slurm's srun --mpi=pmix, prterun) the second.
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

namespace {
Ranks* g_world = nullptr;
}  // namespace

Ranks& Ranks::world() {
  static Ranks ranks;
  g_world = &ranks;
  return ranks;
}

Ranks* Ranks::job() {
  return g_world && g_world->size() > 1 ? g_world : nullptr;
}

#ifdef CHARNN_WITH_MPI

namespace {

// MPI counts are ints: larger buffers go in pieces.
constexpr std::size_t kPiece = std::numeric_limits<int>::max() / 8;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw error(std::string("MPI: ") + what + " failed: " + std::string(text, length));
}

template <class T>
void sum_pieces(T* data, std::size_t n, MPI_Datatype type) {
  for (std::size_t at = 0; at < n; at += kPiece) {
    const int count = static_cast<int>(std::min(kPiece, n - at));
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, type, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
}

}  // namespace

Ranks::Ranks() {
  if (!launched_by_mpirun()) return;
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    // Only the main thread calls MPI; OpenMP threads never do.
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  }
  joined_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

void Ranks::sum(std::span<float> values) const {
  if (size_ > 1) sum_pieces(values.data(), values.size(), MPI_FLOAT);
}

void Ranks::sum(std::span<double> values) const {
  if (size_ > 1) sum_pieces(values.data(), values.size(), MPI_DOUBLE);
}

void Ranks::broadcast(void* data, std::size_t bytes) const {
  if (size_ <= 1) return;
  auto* p = static_cast<char*>(data);
  for (std::size_t at = 0; at < bytes; at += kPiece)
    check(MPI_Bcast(p + at, static_cast<int>(std::min(kPiece, bytes - at)), MPI_BYTE, 0,
                    MPI_COMM_WORLD),
          "MPI_Bcast");
}

std::vector<float> Ranks::gather(std::span<const float> mine) const {
  if (size_ <= 1) return {mine.begin(), mine.end()};
  // Recurrent states are small (layers x streams x width): one MPI_Gatherv.
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(root() ? static_cast<std::size_t>(size_) : 0), offsets(counts.size());
  check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<float> all;
  if (root()) {
    std::size_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += static_cast<std::size_t>(counts[r]);
    }
    all.resize(total);
  }
  check(MPI_Gatherv(mine.data(), count, MPI_FLOAT, all.data(), counts.data(), offsets.data(),
                    MPI_FLOAT, 0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  return all;
}

void Ranks::finish() {
  if (!joined_) return;
  joined_ = false;
  MPI_Finalize();
}

void Ranks::abort(int code) {
  if (joined_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

#else  // one process, no MPI

Ranks::Ranks() {
  // K copies of a build without MPI would each train alone, into the same run directory.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size && std::string(size) != "1")
    throw error("mpirun started " + std::string(size) +
                    " copies of a charnn built without MPI, which would each train alone",
                "install Open MPI (libopenmpi-dev, openmpi-bin) and rebuild (scripts/build.sh)");
}
void Ranks::sum(std::span<float>) const {}
void Ranks::sum(std::span<double>) const {}
void Ranks::broadcast(void*, std::size_t) const {}
std::vector<float> Ranks::gather(std::span<const float> mine) const {
  return {mine.begin(), mine.end()};
}
void Ranks::finish() {}
void Ranks::abort(int code) {
  std::exit(code);
}

#endif

void Ranks::broadcast(std::string& bytes) const {
  std::uint64_t n = bytes.size();
  broadcast(&n, sizeof n);
  bytes.resize(n);
  broadcast(bytes.data(), n);
}

StreamShare stream_share(std::int64_t total, int rank, int ranks) {
  const std::int64_t k = std::max(ranks, 1), r = std::clamp<std::int64_t>(rank, 0, k - 1);
  const std::int64_t base = total / k, extra = total % k;
  return {
      .first = r * base + std::min(r, extra), .count = base + (r < extra ? 1 : 0), .total = total};
}

}  // namespace charnn
