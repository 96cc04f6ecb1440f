// See plugin_probe.hpp.
#include "plugin_probe.hpp"

#include <charnn/loaded_plugin.hpp>
#include <charnn/plugin.h>

#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstring>

namespace charnn::detail {

namespace {

constexpr unsigned kProbeSeconds = 20;  // a library that takes longer to load is broken too

// What the loader runs for this library when the host exits: DT_FINI_ARRAY backwards, then
// DT_FINI (the C++ destructors of its statics among them). The host loads plugins with
// RTLD_NODELETE, so these run only at exit, after the host's work; a damaged one crashed the
// host there (2 of 100 damaged lstm plugins did).
void run_finalisers(void* handle) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_ld) return;
  std::uintptr_t array = 0, array_size = 0, fini = 0;
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_FINI_ARRAY) array = map->l_addr + d->d_un.d_ptr;
    if (d->d_tag == DT_FINI_ARRAYSZ) array_size = d->d_un.d_val;
    if (d->d_tag == DT_FINI) fini = map->l_addr + d->d_un.d_ptr;
  }
  using Fn = void (*)();
  if (array)
    for (std::size_t k = array_size / sizeof(Fn); k-- > 0;) reinterpret_cast<Fn*>(array)[k]();
  if (fini) reinterpret_cast<Fn>(fini)();
}

// Once the library is loaded, every way out of the child runs its finalisers: the host runs
// them at exit whatever it made of the library. Then _exit, so that none of this process's own
// destructors runs.
[[noreturn]] void finish(void* handle) {
  run_finalisers(handle);
  ::_exit(0);
}

// The child's part: every step the host takes with the library, down to its finalisers.
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
  if (!sym) finish(handle);
  charnn_plugin_entry_fn entry = nullptr;
  std::memcpy(&entry, &sym, sizeof entry);
  charnn_cell_api api{};
  if (!adopt_api_table(entry(), api).empty()) finish(handle);
  char err[512];
  charnn_cell* cell = nullptr;
  if (api.create(3, 2, &cell, err, sizeof err) != CHARNN_OK || !cell) finish(handle);
  // Read what the host reads, the strings too: a damaged plugin returned a wild name pointer,
  // which crashed the host in strlen.
  std::size_t touched = 0;
  for (std::int32_t k = 0, n = api.num_params(cell); k < n && k < 64; ++k) {
    charnn_tensor_info info{};
    if (api.param_info(cell, k, &info) == CHARNN_OK && info.name) touched += std::strlen(info.name);
  }
  for (std::int32_t k = 0, n = api.num_states(cell); k < n && k < 64; ++k)
    if (const char* name = api.state_name(cell, k)) touched += std::strlen(name);
  for (std::int32_t k = 0, n = api.num_signals(cell); k < n && k < 64; ++k)
    if (const char* name = api.signal_name(cell, k)) touched += std::strlen(name);
  if (const char* why = api.last_error(cell)) touched += std::strlen(why);
  asm volatile("" : : "r"(touched));  // so that the reads are not optimised away
  api.destroy(cell);
  finish(handle);
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
