// mpirun for `charnn train --ranks K`. See launch_ranks.hpp.
#include "launch_ranks.hpp"

#include <charnn/error.hpp>
#include <charnn/ranks.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
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

// The processes whose parent is `parent`, from /proc: mpirun's ranks on this machine.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;  // gone since the listing
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so from the last ')'.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

// Runs argv[0] with argv as a child and waits for it, passing SIGINT and SIGTERM on to its own
// children (the ranks), which save a checkpoint and exit 130 or 143, an exit mpirun then passes
// on. mpirun signalled itself forwards SIGTERM to the ranks but then exits 1 (Open MPI 4.1), so
// a job manager stopping `charnn train --ranks K` would read a failure. The signals stay blocked
// here and are taken with sigtimedwait, so none arrives between two checks and is lost.
int run_relaying_signals(const std::vector<std::string>& argv) {
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigprocmask(SIG_BLOCK, &stops, &before);
  // Built before the fork: the child only calls what is safe between fork and exec.
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  const std::string cannot = "charnn: cannot start " + argv[0] + "\n";
  const pid_t self = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw error(std::string("cannot start mpirun: fork: ") + std::strerror(errno));
  if (child == 0) {
    // mpirun and the ranks in a process group of their own, so that a Ctrl-C at the terminal
    // reaches them once, through this process, and not also straight from the terminal; and
    // mpirun ends with this process, should it be killed outright.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != self) ::_exit(1);
    sigprocmask(SIG_SETMASK, &before, nullptr);
    ::execv(c_argv[0], c_argv.data());
    [[maybe_unused]] const auto n = ::write(2, cannot.data(), cannot.size());
    ::_exit(127);
  }
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) {
      sigprocmask(SIG_SETMASK, &before, nullptr);
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    if (done < 0 && errno != EINTR)
      throw error(std::string("lost mpirun: waitpid: ") + std::strerror(errno));
    const timespec tick{.tv_sec = 0, .tv_nsec = 100'000'000};
    const int sig = sigtimedwait(&stops, nullptr, &tick);
    if (sig <= 0) continue;
    const std::vector<pid_t> ranks = children_of(child);
    if (ranks.empty()) ::kill(child, sig);  // no rank started yet: mpirun ends the job
    for (const pid_t rank : ranks) ::kill(rank, sig);
  }
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

int launch_ranks(int ranks, const std::vector<std::string>& train_args) {
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
  std::vector<std::string> argv = {mpirun, "-np", std::to_string(ranks), "--bind-to", "none",
                                   "--oversubscribe",
                                   // In a process group of its own mpirun must not read the
                                   // terminal (SIGTTIN would stop it), and training reads no input.
                                   "--stdin", "none", self, "train"};
  for (const auto& a : without_ranks_option(train_args)) argv.push_back(a);
  return run_relaying_signals(argv);
}

}  // namespace charnn::app
