// See plugin_probe.hpp.
#include "plugin_probe.hpp"

#include <charnn/loaded_plugin.hpp>
#include <charnn/plugin.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace charnn::detail {

namespace {

constexpr unsigned kProbeSeconds = 20;  // a library that takes longer to load is broken too

// The child's part: every step the host takes before it trusts the library, then _exit, so
// none of the library's (or this process's) destructors runs.
[[noreturn]] void probe(const char* path) {
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
  }
  std::signal(SIGALRM, SIG_DFL);
  ::alarm(kProbeSeconds);
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) ::_exit(0);  // the real load says why, in the loader's words
  void* sym = dlsym(handle, CHARNN_PLUGIN_ENTRY_NAME);
  if (!sym) ::_exit(0);
  charnn_plugin_entry_fn entry = nullptr;
  std::memcpy(&entry, &sym, sizeof entry);
  charnn_cell_api api{};
  if (!adopt_api_table(entry(), api).empty()) ::_exit(0);
  char err[512];
  charnn_cell* cell = nullptr;
  if (api.create(3, 2, &cell, err, sizeof err) != CHARNN_OK || !cell) ::_exit(0);
  for (std::int32_t k = 0, n = api.num_params(cell); k < n && k < 64; ++k) {
    charnn_tensor_info info{};
    (void)api.param_info(cell, k, &info);
  }
  for (std::int32_t k = 0, n = api.num_states(cell); k < n && k < 64; ++k)
    (void)api.state_name(cell, k);
  for (std::int32_t k = 0, n = api.num_signals(cell); k < n && k < 64; ++k)
    (void)api.signal_name(cell, k);
  api.destroy(cell);
  ::_exit(0);
}

}  // namespace

std::string probe_plugin_in_child(const std::filesystem::path& file) {
  const std::string path = file.string();
  // The child calls dlopen, which POSIX does not promise to work after fork in a threaded
  // process: it does when no other thread is inside the loader at the fork, as when plugins are
  // discovered before any work starts.
  const pid_t pid = ::fork();
  if (pid < 0) return {};  // no child: the load goes ahead unprobed
  if (pid == 0) probe(path.c_str());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return {};
  // The child leaves only through _exit(0): any other exit came from the library, or from the
  // loader giving up on it (glibc exits with 127 on some damaged relocations).
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 0
               ? std::string()
               : "it ended the process (exit status " + std::to_string(WEXITSTATUS(status)) +
                     ") when loaded in a test process: the file is damaged or was built wrongly";
  if (!WIFSIGNALED(status)) return {};
  const int sig = WTERMSIG(status);
  if (sig == SIGALRM)
    return "it did not finish loading within " + std::to_string(kProbeSeconds) +
           " s in a test process";
  const char* name = sigabbrev_np(sig);
  return std::string("it crashed (SIG") + (name ? name : std::to_string(sig).c_str()) +
         ") when loaded in a test process: the file is damaged or was built wrongly";
}

}  // namespace charnn::detail
