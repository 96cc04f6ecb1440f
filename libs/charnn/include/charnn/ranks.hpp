// The processes that train one model together: `mpirun -np K charnn train ...` starts K ranks,
// each owning a contiguous share of the batch's streams, which add their gradients with one
// MPI_Allreduce per step (docs/multi-machine.md). Without mpirun, or in a build without MPI
// (CHARNN_WITH_MPI unset), there is one rank and every call here is a no-op or a copy, so the
// trainer has one code path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace charnn {

// Whether this build can run under mpirun.
bool mpi_built();
// Whether mpirun (Open MPI, or any launcher through PMIx) started this process.
bool launched_by_mpirun();

class Ranks {
 public:
  // The job this process belongs to. The first call joins it (MPI_Init) when mpirun started the
  // process and MPI is built in; otherwise the job is this process alone.
  static Ranks& world();
  // The job if world() has joined one of several ranks, else nullptr (never joins one itself):
  // for code that must end the others' wait after a failure here.
  static Ranks* job();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  int local_size() const { return local_size_; }  // ranks on this machine, this one included

  // Collective calls: every rank makes the same ones, in the same order.
  void sum(std::span<float> values) const;              // in place, elementwise over the ranks
  void sum(std::span<double> values) const;             // in place
  void broadcast(void* data, std::size_t bytes) const;  // the root's bytes to every rank
  void broadcast(std::string& bytes) const;             // resized on the other ranks
  template <class T>
  void broadcast(std::vector<T>& v) const {
    std::uint64_t n = v.size();
    broadcast(&n, sizeof n);
    v.resize(n);
    broadcast(v.data(), n * sizeof(T));
  }
  // The root receives every rank's floats, back to back in rank order; the others get nothing.
  std::vector<float> gather(std::span<const float> mine) const;

  // The end of a job: leave it cleanly after success (MPI_Finalize), or end every rank with this
  // exit code after a failure on any one (MPI_Abort), since the others would wait for it forever.
  // Both do nothing when there is one rank.
  void finish();
  [[noreturn]] void abort(int code);

 private:
  Ranks();
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool joined_ = false;  // MPI_Init was called and not yet finalised
};

// One rank's share of a batch of `total` streams: `count` streams from `first`. The shares are
// contiguous, in rank order, and differ by at most one stream.
struct StreamShare {
  std::int64_t first = 0, count = 0, total = 0;
};
StreamShare stream_share(std::int64_t total, int rank, int ranks);

}  // namespace charnn
