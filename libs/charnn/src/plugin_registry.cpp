// Loading cell plugins: dlopen one library, validate its C table, and discover every plugin in the
// search path. The validation follows plugin.h: same ABI major, a struct no larger than ours, all
// required functions present. An older plugin's shorter table is copied into a host-sized struct
// with the trailing fields it does not know zeroed, so later code only ever tests for NULL.
#include "charnn/plugin_registry.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "charnn/cell.hpp"
#include "charnn/error.hpp"

namespace charnn {

namespace {

// Plugin::load throws this so that discover() can record the bare reason in skipped() while
// callers that only know charnn::error still get a message naming the file.
class load_failure : public error {
 public:
  load_failure(const std::filesystem::path& file, std::string reason)
      : error(file.string() + ": not a usable cell plugin: " + reason,
              "'charnn cells --verbose' lists every library it tried and why it was skipped"),
        reason_(std::move(reason)) {}
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

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
    CHARNN_API_FN(prepare_step, false),         // ABI 1.1
    CHARNN_API_FN(set_train_precision, false),  // ABI 1.1
};
#undef CHARNN_API_FN

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
static_assert(offsetof(charnn_cell_api, set_train_precision) + sizeof(void*) ==
                  sizeof(charnn_cell_api),
              "every field of charnn_cell_api must be listed in kApiFunctions");

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

std::filesystem::path absolute_path(const std::filesystem::path& p) {
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(p, ec);
  if (!ec) return canon;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal();
}

bool has_so_suffix(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0;
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
  // Copy what the plugin has; the rest of `out` stays zero (the NULL of an unknown function).
  std::memcpy(&out, table, size);
  out.struct_size = static_cast<std::uint32_t>(sizeof(charnn_cell_api));
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
  const std::filesystem::path path = absolute_path(file);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw load_failure(path, "no such file");
  if (std::filesystem::is_directory(path, ec))
    throw load_failure(path, "it is a directory, not a library");

  // RTLD_NOW: an unresolved symbol is reported here, not as a crash mid-training.
  // RTLD_LOCAL: two plugins' private helpers never bind to each other.
  // The path always contains a '/', so dlopen never searches LD_LIBRARY_PATH for it.
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw load_failure(path, "cannot load it as a library: " + one_line_dlerror(path));

  // From here on the Plugin owns the handle, so every early exit closes it.
  std::shared_ptr<Plugin> plugin(new Plugin());
  plugin->handle_ = handle;
  plugin->file_ = path;

  dlerror();
  void* sym = dlsym(handle, CHARNN_PLUGIN_ENTRY_NAME);
  if (!sym)
    throw load_failure(path, "it does not export the entry point " CHARNN_PLUGIN_ENTRY_NAME
                             " (not a charnn cell plugin)");
  charnn_plugin_entry_fn entry = nullptr;
  static_assert(sizeof entry == sizeof sym);
  std::memcpy(&entry, &sym, sizeof entry);  // POSIX guarantees this object-to-function conversion

  const charnn_cell_api* table = entry();
  if (std::string reason = detail::adopt_api_table(table, plugin->api_); !reason.empty())
    throw load_failure(path, reason);
  plugin->name_ = plugin->api_.name;
  plugin->version_ = bounded_string(plugin->api_.version);
  plugin->description_ = bounded_string(plugin->api_.description);
  return plugin;
}

PluginRegistry PluginRegistry::discover(const PluginSearch& search) {
  PluginRegistry reg;
  std::set<std::filesystem::path> seen;  // the same file reached twice is loaded once

  // explicit: the user named this file, so a failure is an error rather than a skip.
  auto add = [&](const std::filesystem::path& file, bool explicit_file) {
    const std::filesystem::path path = absolute_path(file);
    if (!seen.insert(path).second) return;
    std::shared_ptr<const Plugin> plugin;
    try {
      plugin = Plugin::load(path);
    } catch (const load_failure& e) {
      if (explicit_file)
        throw error("--plugin " + path.string() + ": " + e.reason(),
                    e.reason() == "no such file"
                        ? "check the path; --plugin takes a library file such as "
                          "charnn-cell-<name>.so"
                        : "build the plugin against this charnn's plugin.h; 'charnn cells "
                          "--verbose' shows what else was found");
      reg.skipped_.push_back({path, e.reason()});
      return;
    }
    for (const auto& other : reg.plugins_) {
      if (other->name() == plugin->name())
        throw error("two plugins claim the cell name '" + plugin->name() +
                        "': " + other->file().string() + " and " + plugin->file().string(),
                    "remove or rename one of them (plugins from --plugin and CHARNN_PLUGIN_PATH "
                    "are added to the built-in ones, they do not replace them)");
    }
    reg.plugins_.push_back(std::move(plugin));
  };

  auto scan = [&](const std::filesystem::path& dir) {
    const std::filesystem::path path = absolute_path(dir);
    if (std::find(reg.dirs_.begin(), reg.dirs_.end(), path) != reg.dirs_.end()) return;
    reg.dirs_.push_back(path);
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return;  // absent dirs are normal (no plugins)
    std::vector<std::filesystem::path> libs;
    std::filesystem::directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      // A dangling symlink is listed (and later skipped as "no such file"), so its own status
      // error must not end the directory walk.
      std::error_code entry_ec;
      if (has_so_suffix(it->path()) && !it->is_directory(entry_ec)) libs.push_back(it->path());
    }
    if (ec) {
      reg.skipped_.push_back({path, "cannot read the directory: " + ec.message()});
      return;
    }
    std::sort(libs.begin(), libs.end());  // load order, and so error messages, are reproducible
    for (const auto& lib : libs) add(lib, false);
  };

  for (const auto& file : search.files) add(file, true);
  if (search.use_env) {
    if (const char* env = std::getenv("CHARNN_PLUGIN_PATH")) {
      std::string_view rest = env;
      while (!rest.empty()) {
        const auto colon = rest.find(':');
        const std::string_view dir = rest.substr(0, colon);
        if (!dir.empty()) scan(std::filesystem::path(std::string(dir)));
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      }
    }
  }
  if (search.use_default_dir) {
    if (auto dir = default_plugin_dir(); !dir.empty()) scan(dir);
  }
  return reg;
}

std::shared_ptr<const Plugin> PluginRegistry::find(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->name() == name) return p;
  return nullptr;
}

std::shared_ptr<const Plugin> PluginRegistry::get(std::string_view name) const {
  if (auto p = find(name)) return p;
  std::string available;
  for (const auto& p : plugins_) available += (available.empty() ? "" : ", ") + p->name();
  std::string message = "no cell plugin named '" + std::string(name) + "'; ";
  message += available.empty() ? "no cell plugins were found" : "available: " + available;
  std::string where;
  for (const auto& d : dirs_) where += (where.empty() ? "" : ", ") + d.string();
  message += where.empty() ? "" : " (searched " + where + ")";
  // A library that looks like the wanted cell but was skipped is the likely explanation.
  const std::string wanted_file = "charnn-cell-" + std::string(name) + ".so";
  for (const auto& s : skipped_) {
    if (s.file.filename() == wanted_file)
      message += "; " + s.file.string() + " was skipped: " + s.reason;
  }
  throw error(message,
              "put the plugin in one of those directories, add its directory to "
              "CHARNN_PLUGIN_PATH, or pass --plugin FILE; 'charnn cells --verbose' lists what "
              "was found and skipped");
}

Cell PluginRegistry::create_cell(std::string_view name, std::int64_t input_size,
                                 std::int64_t hidden_size) const {
  return Cell(get(name), input_size, hidden_size);
}

std::filesystem::path default_plugin_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (exe.parent_path() / ".." / CHARNN_PLUGIN_SUBDIR).lexically_normal();
}

}  // namespace charnn
