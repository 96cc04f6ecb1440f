// mpirun for `charnn train --ranks K`. See launch_ranks.hpp.
#include "launch_ranks.hpp"

#include <charnn/error.hpp>
#include <charnn/ranks.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace charnn::app {

namespace {

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

}  // namespace

std::vector<std::string> without_ranks_option(const std::vector<std::string>& args) {
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--ranks") {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind("--ranks=", 0) == 0) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

void launch_ranks(int ranks, const std::vector<std::string>& train_args) {
  if (launched_by_mpirun())
    throw error("--ranks starts mpirun itself, and this process is already one of mpirun's",
                "leave out --ranks under mpirun: mpirun's -np sets the ranks", 2);
  if (!mpi_built())
    throw error("this charnn was built without MPI, so it cannot train on several ranks",
                "install Open MPI (libopenmpi-dev, openmpi-bin) and rebuild (scripts/build.sh), "
                "or train without --ranks");
  const std::string mpirun = find_in_path("mpirun");
  if (mpirun.empty())
    throw error("mpirun is not on the PATH", "install openmpi-bin, or train without --ranks");
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw error("cannot find this program's own path (/proc/self/exe): " + ec.message());
  // What these machines need (docs/multi-machine.md): root is refused unless allowed; a container
  // without ptrace has no single-copy shared memory; and each rank's threads need CPUs of their
  // own, not the one core mpirun would bind them all to.
  if (::geteuid() == 0) {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  std::vector<std::string> argv = {
      mpirun, "-np", std::to_string(ranks), "--bind-to", "none", "--oversubscribe", self, "train"};
  for (const auto& a : without_ranks_option(train_args)) argv.push_back(a);
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  ::execv(mpirun.c_str(), c_argv.data());
  throw error("cannot start " + mpirun + ": " + std::strerror(errno));
}

}  // namespace charnn::app
