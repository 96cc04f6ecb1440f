// See loaded_plugin.hpp. An older plugin's shorter table is copied into a host-sized struct with
// the trailing fields it does not know zeroed, so later code only ever tests for NULL.
#include "charnn/loaded_plugin.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "charnn/detail/elf_check.hpp"
#include "plugin_probe.hpp"
#include "util.hpp"

namespace charnn {

PluginLoadError::PluginLoadError(const std::filesystem::path& file, std::string reason)
    : error(file.string() + ": not a usable cell plugin: " + reason,
            "'charnn cells --verbose' lists every library it tried and why it was skipped"),
      reason_(std::move(reason)) {}

namespace {

// One line, no path prefix: dlerror() says "<file>: <why>", and the file is printed beside it.
std::string one_line_dlerror(const std::filesystem::path& file) {
  const char* raw = dlerror();
  std::string msg = raw ? raw : "unknown dynamic loader error";
  const std::string prefix = file.string() + ": ";
  if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  return msg;
}

// The function-pointer fields of charnn_cell_api, in struct order. ABI 1.0 requires all of its
// functions; a field appended in a later minor version goes here with required = false (a plugin
// built against an older minor has a shorter table, and the field reads as NULL).
struct ApiFunction {
  const char* name;
  std::size_t offset;
  bool required;
};

#define CHARNN_API_FN(field, required)                 \
  ApiFunction {                                        \
#field, offsetof(charnn_cell_api, field), required \
  }
constexpr ApiFunction kApiFunctions[] = {
    CHARNN_API_FN(create, true),
    CHARNN_API_FN(destroy, true),
    CHARNN_API_FN(num_params, true),
    CHARNN_API_FN(param_info, true),
    CHARNN_API_FN(num_states, true),
    CHARNN_API_FN(state_name, true),
    CHARNN_API_FN(init_params, true),
    CHARNN_API_FN(forward, true),
    CHARNN_API_FN(backward, true),
    CHARNN_API_FN(step, true),
    CHARNN_API_FN(num_signals, true),
    CHARNN_API_FN(signal_name, true),
    CHARNN_API_FN(trace, true),
    CHARNN_API_FN(last_error, true),
    CHARNN_API_FN(prepare_step, false),           // ABI 1.1
    CHARNN_API_FN(set_train_precision, false),    // ABI 1.1
    CHARNN_API_FN(set_index_input, false),        // ABI 1.2
    CHARNN_API_FN(set_trace_index_input, false),  // ABI 1.5, after the data fields
};
#undef CHARNN_API_FN

// The data fields after the 1.2 functions (ABI 1.3 and 1.4): each a double, 0 when the table ends
// before it, and otherwise finite and >= 0.
struct ApiData {
  const char* name;
  std::size_t offset;
  double charnn_cell_api::*field;
  const char* zero_means;  // for the message that refuses a bad value
  const char* otherwise;
};
#define CHARNN_API_DATA(field, zero, other) \
  ApiData { #field, offsetof(charnn_cell_api, field), &charnn_cell_api::field, zero, other }
const ApiData kApiData[] = {
    CHARNN_API_DATA(max_learning_rate, "no limit", "a positive rate"),               // ABI 1.3
    CHARNN_API_DATA(dropout_exposure, "the host's default", "a positive exposure"),  // ABI 1.4
};
#undef CHARNN_API_DATA

constexpr std::size_t kApiHeaderSize = offsetof(charnn_cell_api, create);

constexpr std::size_t required_api_size() {
  std::size_t end = kApiHeaderSize;
  for (const auto& f : kApiFunctions)
    if (f.required) end = std::max(end, f.offset + sizeof(void*));
  return end;
}
// A 1.0 table (everything up to last_error) is the smallest one accepted.
static_assert(required_api_size() == offsetof(charnn_cell_api, prepare_step),
              "ABI 1.x: the 1.0 functions are required, later ones optional; update "
              "kApiFunctions when appending fields");
// After the 1.2 functions, the data fields (kApiData), which adopt_api_table checks, then the
// functions appended since.
static_assert(offsetof(charnn_cell_api, set_index_input) + sizeof(void*) ==
                      offsetof(charnn_cell_api, max_learning_rate) &&
                  offsetof(charnn_cell_api, max_learning_rate) + sizeof(double) ==
                      offsetof(charnn_cell_api, dropout_exposure) &&
                  offsetof(charnn_cell_api, dropout_exposure) + sizeof(double) ==
                      offsetof(charnn_cell_api, set_trace_index_input) &&
                  offsetof(charnn_cell_api, set_trace_index_input) + sizeof(void*) ==
                      sizeof(charnn_cell_api),
              "every field of charnn_cell_api must be listed in kApiFunctions or checked as "
              "data in adopt_api_table");

bool is_null_function(const charnn_cell_api& api, std::size_t offset) {
  void (*fn)() = nullptr;  // all function pointers share one representation on our platforms
  std::memcpy(&fn, reinterpret_cast<const unsigned char*>(&api) + offset, sizeof fn);
  return fn == nullptr;
}

// Cell names end up in checkpoints and on command lines: keep them to [a-z][a-z0-9_]*.
std::string check_name(const char* name) {
  constexpr std::size_t kMaxName = 64;
  if (!name) return "its name is NULL";
  const std::size_t len = strnlen(name, kMaxName + 1);
  if (len == 0) return "its name is empty";
  if (len > kMaxName) return "its name is longer than " + std::to_string(kMaxName) + " characters";
  std::string s(name, len);
  if (s[0] < 'a' || s[0] > 'z') return "its name '" + s + "' does not start with a-z";
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return "its name '" + s + "' has characters other than a-z, 0-9 and '_'";
  }
  return {};
}

std::string bounded_string(const char* s) {
  return s ? std::string(s, strnlen(s, 4096)) : std::string();
}

}  // namespace

namespace detail {

std::string adopt_api_table(const charnn_cell_api* table, charnn_cell_api& out,
                            std::size_t required_size) {
  out = charnn_cell_api{};
  if (!table) return "its entry point returned NULL";
  // The leading struct_size/abi_major/abi_minor are stable across all versions: read only those
  // before deciding how much of the rest exists.
  std::uint32_t size = 0;
  std::uint16_t major = 0, minor = 0;
  std::memcpy(&size, &table->struct_size, sizeof size);
  std::memcpy(&major, &table->abi_major, sizeof major);
  std::memcpy(&minor, &table->abi_minor, sizeof minor);
  const std::string theirs = std::to_string(major) + "." + std::to_string(minor);
  const std::string ours =
      std::to_string(CHARNN_PLUGIN_ABI_MAJOR) + "." + std::to_string(CHARNN_PLUGIN_ABI_MINOR);
  if (major != CHARNN_PLUGIN_ABI_MAJOR)
    return "built for plugin ABI " + theirs + ", this charnn loads ABI " + ours + " (major " +
           std::to_string(CHARNN_PLUGIN_ABI_MAJOR) + " only); rebuild it against this charnn";
  if (size > sizeof(charnn_cell_api))
    return "its table is " + std::to_string(size) + " bytes (ABI " + theirs +
           "), larger than the " + std::to_string(sizeof(charnn_cell_api)) +
           " this charnn knows (ABI " + ours + "): it needs a newer charnn";
  if (size < required_size) {
    // Name the first required function the short table lacks: that is what the user can act on.
    for (const auto& f : kApiFunctions) {
      const std::size_t end = f.offset + sizeof(void*);
      if (end <= required_size && end > size)
        return "its table is " + std::to_string(size) + " bytes (ABI " + theirs +
               ") and ends before the required function '" + f.name + "' (need at least " +
               std::to_string(required_size) + ")";
    }
    return "its table is " + std::to_string(size) + " bytes, need at least " +
           std::to_string(required_size);
  }
  // Copy what the plugin has; the rest of `out` stays zero (the NULL of an unknown function,
  // the "no limit" of an unknown data field). A field the table holds only in part is unknown.
  std::memcpy(&out, table, size);
  out.struct_size = static_cast<std::uint32_t>(sizeof(charnn_cell_api));
  for (const auto& d : kApiData)
    if (size < d.offset + sizeof(double)) out.*d.field = 0;
  // A function is required when it lies within required_size (by default: every function whose
  // kApiFunctions entry says required).
  for (const auto& f : kApiFunctions) {
    if (f.offset + sizeof(void*) <= required_size && is_null_function(out, f.offset)) {
      std::string reason = std::string("the required function '") + f.name + "' is NULL";
      out = charnn_cell_api{};
      return reason;
    }
  }
  if (std::string bad = check_name(out.name); !bad.empty()) {
    out = charnn_cell_api{};
    return bad;
  }
  for (const auto& d : kApiData) {
    const double v = out.*d.field;
    if (std::isfinite(v) && v >= 0) continue;
    std::string reason = std::string("its ") + d.name + " is " + std::to_string(v) +
                         ": it must be 0 (" + d.zero_means + ") or " + d.otherwise;
    out = charnn_cell_api{};
    return reason;
  }
  return {};
}

std::string adopt_api_table(const charnn_cell_api* table, charnn_cell_api& out) {
  return adopt_api_table(table, out, required_api_size());
}

}  // namespace detail

Plugin::~Plugin() {
  // Every Cell holds a shared_ptr to its Plugin, so no code from this library can still be live.
  if (handle_) dlclose(handle_);
}

std::shared_ptr<const Plugin> Plugin::load(const std::filesystem::path& file) {
  const std::filesystem::path path = detail::absolute_path(file);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw PluginLoadError(path, "no such file");
  if (std::filesystem::is_directory(path, ec))
    throw PluginLoadError(path, "it is a directory, not a library");

  // The loader trusts the file: a cut-short or damaged one would crash it, not fail.
  if (std::string why = detail::elf_file_problem(path); !why.empty())
    throw PluginLoadError(path, why);
  // Code is only proved by running it: first in a child process that may crash instead of us.
  if (std::string why = detail::probe_plugin_in_child(path); !why.empty())
    throw PluginLoadError(path, why);

  // RTLD_NOW: an unresolved symbol is reported here, not as a crash mid-training.
  // RTLD_LOCAL: two plugins' private helpers never bind to each other.
  // RTLD_NODELETE: dlclose never unmaps it, so its code outlives every handler it registered
  // with the host's exit (the C++ destructors of its statics). A damaged copy whose GOT bound
  // __cxa_finalize to another function kept those handlers registered past an unmap, and the
  // host crashed in exit() (scripts/attack-plugins.sh); the probe runs the finalisers as exit
  // then does.
  // The path always contains a '/', so dlopen never searches LD_LIBRARY_PATH for it.
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle)
    throw PluginLoadError(path, "cannot load it as a library: " + one_line_dlerror(path));

  // From here on the Plugin owns the handle, so every early exit closes it.
  std::shared_ptr<Plugin> plugin(new Plugin());
  plugin->handle_ = handle;
  plugin->file_ = path;

  dlerror();
  void* sym = dlsym(handle, CHARNN_PLUGIN_ENTRY_NAME);
  if (!sym)
    throw PluginLoadError(path, "it does not export the entry point " CHARNN_PLUGIN_ENTRY_NAME
                                " (not a charnn cell plugin)");
  charnn_plugin_entry_fn entry = nullptr;
  static_assert(sizeof entry == sizeof sym);
  std::memcpy(&entry, &sym, sizeof entry);  // POSIX guarantees this object-to-function conversion

  const charnn_cell_api* table = entry();
  if (std::string reason = detail::adopt_api_table(table, plugin->api_); !reason.empty())
    throw PluginLoadError(path, reason);
  plugin->name_ = plugin->api_.name;
  plugin->version_ = bounded_string(plugin->api_.version);
  plugin->description_ = bounded_string(plugin->api_.description);
  return plugin;
}

}  // namespace charnn
