// The plugin loader against the deliberately broken libraries in tests/plugins/: each failure
// mode is skipped with its own one-line reason while the valid test cell still loads; duplicate
// names, explicit --plugin failures and lookups of absent cells are errors that say what to do;
// a library stays loaded exactly as long as something created from it lives.
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <charnn/cell.hpp>
#include <charnn/error.hpp>
#include <charnn/plugin_registry.hpp>

#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path kTestDir = fs::weakly_canonical(CHARNN_TEST_PLUGIN_DIR);
const fs::path kLinear = kTestDir / "charnn-cell-test_linear.so";
// This charnn's plugin ABI, and the one broken-abi-major.so claims (the next major).
const std::string kOurAbi = std::to_string(CHARNN_PLUGIN_ABI_MAJOR) + "." +
                            std::to_string(CHARNN_PLUGIN_ABI_MINOR);
const std::string kNextMajor = std::to_string(CHARNN_PLUGIN_ABI_MAJOR + 1) + "." +
                               std::to_string(CHARNN_PLUGIN_ABI_MINOR);

// Sets CHARNN_PLUGIN_PATH for one test and restores the previous value afterwards.
class PluginPathEnv {
 public:
  explicit PluginPathEnv(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("CHARNN_PLUGIN_PATH")) old_ = old;
    if (value)
      setenv("CHARNN_PLUGIN_PATH", value->c_str(), 1);
    else
      unsetenv("CHARNN_PLUGIN_PATH");
  }
  ~PluginPathEnv() {
    if (old_)
      setenv("CHARNN_PLUGIN_PATH", old_->c_str(), 1);
    else
      unsetenv("CHARNN_PLUGIN_PATH");
  }
  PluginPathEnv(const PluginPathEnv&) = delete;
  PluginPathEnv& operator=(const PluginPathEnv&) = delete;

 private:
  std::optional<std::string> old_;
};

// Only the test directory, through CHARNN_PLUGIN_PATH: no built-in plugins, so results do not
// depend on which cells the tree happens to build.
charnn::PluginRegistry discover_test_dir(std::vector<fs::path> files = {}) {
  PluginPathEnv env(kTestDir.string());
  charnn::PluginSearch search;
  search.files = std::move(files);
  search.use_default_dir = false;
  return charnn::PluginRegistry::discover(search);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const charnn::error& e) {
    return e.what();
  }
  FAIL("expected a charnn::error");
  return {};
}

// Whether the dynamic loader still has `file` mapped (RTLD_NOLOAD never loads it).
bool is_loaded(const fs::path& file) {
  void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);  // NOLOAD still took a reference
  return h != nullptr;
}

}  // namespace

TEST_CASE("each broken plugin is skipped with its own one-line reason and the valid one loads",
          "[plugin][loader]") {
  const auto reg = discover_test_dir();

  REQUIRE(reg.plugins().size() == 1);
  CHECK(reg.plugins()[0]->name() == "test_linear");
  CHECK(reg.plugins()[0]->version() == "0.1.0");
  CHECK(reg.plugins()[0]->file() == kLinear);
  REQUIRE(reg.searched_dirs().size() == 1);
  CHECK(reg.searched_dirs()[0] == kTestDir);

  // The expected reason fragment for every failure mode built by tests/plugins/CMakeLists.txt.
  const std::map<std::string, std::string> expected = {
      {"broken-not-a-library.so", "not a shared library (it does not start with the ELF magic)"},
      {"broken-unresolved.so", "undefined symbol: charnn_test_symbol_nobody_defines"},
      {"broken-no-entry.so", "does not export the entry point charnn_plugin_entry"},
      {"broken-null-entry.so", "its entry point returned NULL"},
      {"broken-abi-major.so", "built for plugin ABI " + kNextMajor + ", this charnn loads ABI " +
                                  kOurAbi},
      {"broken-struct-too-large.so", "larger than the " + std::to_string(sizeof(charnn_cell_api))},
      {"broken-struct-too-small.so", "ends before the required function 'last_error'"},
      {"broken-missing-function.so", "the required function 'backward' is NULL"},
      {"broken-bad-name.so", "'Broken Cell!' does not start with a-z"},
      // "crashed (SIGSEGV)"; under AddressSanitizer, whose handler reports the crash and exits
      // with status 1, "ended the process (exit status 1)".
      {"broken-crash-on-load.so", "when loaded in a test process"},
      {"broken-crash-in-entry.so", "when loaded in a test process"},
      {"broken-crash-on-unload.so", "when loaded in a test process"},
      {"broken-wild-name.so", "when loaded in a test process"},
  };
  std::map<std::string, std::string> got;
  for (const auto& s : reg.skipped()) {
    CHECK(s.file.parent_path() == kTestDir);
    CHECK(s.reason.find('\n') == std::string::npos);
    CHECK(s.reason.find(s.file.string()) == std::string::npos);  // the file is printed beside it
    got[s.file.filename().string()] = s.reason;
  }
  CHECK(got.size() == expected.size());
  for (const auto& [file, fragment] : expected) {
    INFO(file);
    REQUIRE(got.count(file) == 1);
    CHECK_THAT(got[file], Contains(fragment));
  }
}

TEST_CASE("two plugins claiming one cell name is an error naming both files", "[plugin][loader]") {
  PluginPathEnv env((kTestDir / "dup").string());
  charnn::PluginSearch search;
  search.use_default_dir = false;
  const std::string msg = message_of([&] { charnn::PluginRegistry::discover(search); });
  CHECK_THAT(msg, Contains("'test_dup'"));
  CHECK_THAT(msg, Contains((kTestDir / "dup" / "charnn-cell-test_dup-a.so").string()));
  CHECK_THAT(msg, Contains((kTestDir / "dup" / "charnn-cell-test_dup-b.so").string()));
}

TEST_CASE("a broken or missing --plugin file is an error, not a skip", "[plugin][loader]") {
  charnn::PluginSearch search;
  search.use_env = false;
  search.use_default_dir = false;

  search.files = {kTestDir / "broken-abi-major.so"};
  std::string msg = message_of([&] { charnn::PluginRegistry::discover(search); });
  CHECK_THAT(msg, Contains("--plugin " + (kTestDir / "broken-abi-major.so").string()));
  CHECK_THAT(msg, Contains("built for plugin ABI " + kNextMajor));

  search.files = {kTestDir / "no-such-plugin.so"};
  msg = message_of([&] { charnn::PluginRegistry::discover(search); });
  CHECK_THAT(msg, Contains("no-such-plugin.so: no such file"));

  // Plugin::load alone names the file too.
  msg = message_of([&] { charnn::Plugin::load(kTestDir / "broken-missing-function.so"); });
  CHECK_THAT(msg, Contains("broken-missing-function.so: not a usable cell plugin"));
  CHECK_THAT(msg, Contains("'backward' is NULL"));
}

TEST_CASE("a --plugin file also found in a searched directory is loaded once", "[plugin][loader]") {
  // Relative and absolute spellings of one file, plus the directory holding it.
  const auto reg = discover_test_dir({kLinear, kTestDir / "." / kLinear.filename()});
  REQUIRE(reg.plugins().size() == 1);
  CHECK(reg.plugins()[0]->file() == kLinear);
}

TEST_CASE("CHARNN_PLUGIN_PATH is searched in order, ignoring empty and absent entries",
          "[plugin][loader]") {
  const fs::path absent = kTestDir / "no-such-dir";
  PluginPathEnv env("::" + absent.string() + ":" + kTestDir.string() + ":" + kTestDir.string() +
                    "/:");
  charnn::PluginSearch search;
  search.use_default_dir = false;
  const auto reg = charnn::PluginRegistry::discover(search);
  CHECK(reg.searched_dirs() == std::vector<fs::path>{absent, kTestDir});
  REQUIRE(reg.plugins().size() == 1);
  CHECK(reg.plugins()[0]->name() == "test_linear");
}

TEST_CASE("a dangling symlink or a directory named .so does not stop a directory scan",
          "[plugin][loader]") {
  const fs::path dir =
      fs::temp_directory_path() / ("charnn-loader-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "looks-like-a-library.so");
  fs::create_symlink(dir / "nowhere.so", dir / "a-dangling-link.so");
  fs::copy_file(kLinear, dir / "z-linear.so");
  fs::path linear_link = dir / "zz-link-to-linear.so";  // the same file again: loaded once
  fs::create_symlink(dir / "z-linear.so", linear_link);
  {
    PluginPathEnv env(dir.string());
    charnn::PluginSearch search;
    search.use_default_dir = false;
    const auto reg = charnn::PluginRegistry::discover(search);
    REQUIRE(reg.plugins().size() == 1);
    CHECK(reg.plugins()[0]->file() == dir / "z-linear.so");
    REQUIRE(reg.skipped().size() == 1);
    CHECK(reg.skipped()[0].file == dir / "a-dangling-link.so");
    CHECK(reg.skipped()[0].reason == "no such file");
  }
  fs::remove_all(dir);
}

TEST_CASE("get names the missing cell, the available ones and where it looked",
          "[plugin][loader]") {
  const auto reg = discover_test_dir();
  CHECK(reg.find("nonesuch") == nullptr);
  CHECK(reg.get("test_linear") == reg.find("test_linear"));
  const std::string msg = message_of([&] { reg.get("nonesuch"); });
  CHECK_THAT(msg, Contains("no cell plugin named 'nonesuch'"));
  CHECK_THAT(msg, Contains("available: test_linear"));
  CHECK_THAT(msg, Contains(kTestDir.string()));
}

TEST_CASE("the built-in plugin directory is found beside the program", "[plugin][loader]") {
  // charnn_tests sits in <build>/bin like the charnn program, so both see the same directory.
  CHECK(charnn::default_plugin_dir() == fs::weakly_canonical(CHARNN_PLUGIN_DIR));
}

TEST_CASE("an older plugin's shorter table is copied with the unknown trailing fields zeroed",
          "[plugin][loader]") {
  const auto reg = discover_test_dir();
  const charnn_cell_api& good = reg.get("test_linear")->api();
  CHECK(good.struct_size == sizeof(charnn_cell_api));
  CHECK(good.abi_major == CHARNN_PLUGIN_ABI_MAJOR);
  CHECK(good.abi_minor == CHARNN_PLUGIN_ABI_MINOR);
  REQUIRE(good.prepare_step != nullptr);  // plugin.hpp fills it (answering "unsupported")

  // An ABI 1.0 table ends before prepare_step (appended in 1.1): accepted, and the copy stops at
  // struct_size whatever the plugin's memory holds beyond (here a non-NULL prepare_step).
  struct {
    charnn_cell_api api;
  } older{good};
  older.api.struct_size = offsetof(charnn_cell_api, prepare_step);
  older.api.abi_minor = 0;
  charnn_cell_api out{};
  CHECK(charnn::detail::adopt_api_table(&older.api, out).empty());
  CHECK(out.prepare_step == nullptr);
  CHECK(out.last_error == good.last_error);
  CHECK(out.create == good.create);
  CHECK(std::strcmp(out.name, "test_linear") == 0);
  CHECK(out.struct_size == sizeof(charnn_cell_api));  // the host copy is host-sized

  // Shorter than 1.0 is rejected, naming the first required function it lacks.
  older.api.struct_size = offsetof(charnn_cell_api, last_error);
  CHECK_THAT(charnn::detail::adopt_api_table(&older.api, out), Contains("'last_error'"));
  CHECK(out.create == nullptr);  // nothing half-copied on failure

  CHECK_THAT(charnn::detail::adopt_api_table(nullptr, out), Contains("returned NULL"));
}

TEST_CASE("a cell's learning-rate limit (ABI 1.3) is read, checked, and absent from older tables",
          "[plugin][loader]") {
  const auto reg = discover_test_dir();
  const charnn_cell_api& good = reg.get("test_linear")->api();
  CHECK(good.max_learning_rate == 0);  // the class declares none
  struct {
    charnn_cell_api api;
  } table{good};
  charnn_cell_api out{};
  table.api.max_learning_rate = 2.5e-3;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.max_learning_rate == 2.5e-3);
  // A 1.2 table ends before the field: whatever lies there in memory, there is no limit.
  table.api.struct_size = offsetof(charnn_cell_api, max_learning_rate);
  table.api.abi_minor = 2;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.max_learning_rate == 0);
  // Nor from a table that holds only part of it.
  table.api.struct_size = offsetof(charnn_cell_api, max_learning_rate) + 4;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.max_learning_rate == 0);
  table.api.struct_size = sizeof(charnn_cell_api);
  table.api.abi_minor = CHARNN_PLUGIN_ABI_MINOR;
  for (const double bad : {-1.0, std::nan(""), HUGE_VAL}) {
    table.api.max_learning_rate = bad;
    CHECK_THAT(charnn::detail::adopt_api_table(&table.api, out),
               Contains("its max_learning_rate is") && Contains("0 (no limit) or a positive rate"));
    CHECK(out.create == nullptr);
  }
  // The built-in GRU declares one; the LSTM does not.
  const auto builtin = charnn::PluginRegistry::discover();
  CHECK(builtin.get("gru")->api().max_learning_rate == 2.5e-3);
  CHECK(builtin.get("lstm")->api().max_learning_rate == 0);
}

TEST_CASE("a cell's dropout start (ABI 1.4) is read, checked, and absent from older tables",
          "[plugin][loader]") {
  const auto reg = discover_test_dir();
  const charnn_cell_api& good = reg.get("test_linear")->api();
  CHECK(good.dropout_exposure == 0);  // the class declares none
  struct {
    charnn_cell_api api;
  } table{good};
  charnn_cell_api out{};
  table.api.dropout_exposure = 8;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.dropout_exposure == 8);
  // A 1.3 table ends before the field: the host's default.
  table.api.struct_size = offsetof(charnn_cell_api, dropout_exposure);
  table.api.abi_minor = 3;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.dropout_exposure == 0);
  table.api.struct_size = offsetof(charnn_cell_api, dropout_exposure) + 4;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.dropout_exposure == 0);
  table.api.struct_size = sizeof(charnn_cell_api);
  table.api.abi_minor = CHARNN_PLUGIN_ABI_MINOR;
  for (const double bad : {-1.0, std::nan(""), HUGE_VAL}) {
    table.api.dropout_exposure = bad;
    CHECK_THAT(charnn::detail::adopt_api_table(&table.api, out),
               Contains("its dropout_exposure is") && Contains("or a positive exposure"));
    CHECK(out.create == nullptr);
  }
  const auto builtin = charnn::PluginRegistry::discover();
  CHECK(builtin.get("gru")->api().dropout_exposure == 8);
  CHECK(builtin.get("lstm")->api().dropout_exposure == 0);
}

TEST_CASE("trace by index (ABI 1.5) is absent from older tables and offered by gru and lstm",
          "[plugin][loader][cell]") {
  const auto reg = discover_test_dir();
  const charnn_cell_api& good = reg.get("test_linear")->api();
  REQUIRE(good.set_trace_index_input != nullptr);  // plugin.hpp fills it (answering "unsupported")
  struct {
    charnn_cell_api api;
  } table{good};
  charnn_cell_api out{};
  // A 1.4 table ends before the function: NULL, whatever lies there in memory.
  table.api.struct_size = offsetof(charnn_cell_api, set_trace_index_input);
  table.api.abi_minor = 4;
  REQUIRE(charnn::detail::adopt_api_table(&table.api, out).empty());
  CHECK(out.set_trace_index_input == nullptr);
  CHECK(out.dropout_exposure == good.dropout_exposure);

  charnn::Cell linear = reg.create_cell("test_linear", 5, 3);
  CHECK_FALSE(linear.set_trace_index_input(true));  // the default: dense rows
  CHECK_FALSE(linear.trace_index_input());
  CHECK(linear.set_trace_index_input(false));
  const auto builtin = charnn::PluginRegistry::discover();
  for (const char* name : {"gru", "lstm"}) {
    charnn::Cell cell = builtin.create_cell(name, 5, 3);
    CHECK(cell.set_trace_index_input(true));
    CHECK(cell.trace_index_input());
    // Switched on, trace refuses a call without src_index before it reaches the plugin.
    std::vector<float> params(static_cast<std::size_t>(cell.param_count())), dst(3), sig(18);
    std::vector<float> src(5, 0.0f);
    charnn_trace_args a{1,          1,       params.data(), src.data(), nullptr,
                        dst.data(), nullptr, sig.data(),    nullptr};
    CHECK_THROWS_WITH(cell.trace(a), Contains("src_index"));
  }
  charnn::Cell elman = builtin.create_cell("elman", 5, 3);
  CHECK_FALSE(elman.set_trace_index_input(true));  // its traced sequence reads src only
}

TEST_CASE("an ABI 1.0 plugin loads and steps without a prepared path", "[plugin][loader][cell]") {
  const auto plugin = charnn::Plugin::load(kTestDir / "abi10" / "charnn-cell-test_abi10.so");
  CHECK(plugin->api().prepare_step == nullptr);
  charnn::Cell cell(plugin, 1, 1);
  CHECK_FALSE(cell.has_prepare_step());
  // h = w_x x + w_h h + b with w_x = 2, w_h = 0.5, b = 1: one step from h = 4 with x = 1 is 5.
  const std::array<float, 3> params = {2.0f, 0.5f, 1.0f};  // w_x (1,1), w_h (1,1), b (1)
  CHECK_FALSE(cell.prepare_step(params.data(), CHARNN_PRECISION_F32));
  CHECK_NOTHROW(cell.release_step());
  const float x = 1.0f;
  float h = 4.0f, dst = 0.0f;
  cell.step({1, params.data(), &x, nullptr, &h, &dst});
  CHECK(dst == 5.0f);
}

TEST_CASE("a 1.1 plugin without its own prepared path answers unsupported and still steps",
          "[plugin][cell]") {
  const auto reg = discover_test_dir();
  charnn::Cell cell = reg.create_cell("test_linear", 1, 1);
  CHECK(cell.has_prepare_step());
  const std::array<float, 3> params = {2.0f, 0.5f, 1.0f};
  CHECK_FALSE(cell.prepare_step(params.data(), CHARNN_PRECISION_F32));
  CHECK_FALSE(cell.prepare_step(params.data(), CHARNN_PRECISION_BF16));
  CHECK_NOTHROW(cell.release_step());
  const float x = 1.0f;
  float h = 4.0f, dst = 0.0f;
  cell.step({1, params.data(), &x, nullptr, &h, &dst});
  CHECK(dst == 5.0f);
}

TEST_CASE("a cell keeps its library loaded after the registry is gone", "[plugin][loader][cell]") {
  // Another registry in this process (e.g. the cell tests' with CHARNN_PLUGIN_PATH set) may
  // legitimately hold the library; the unload check only makes sense when nothing else does.
  const bool loaded_elsewhere = is_loaded(kLinear);
  std::optional<charnn::Cell> cell;
  {
    const auto reg = discover_test_dir();
    cell.emplace(reg.create_cell("test_linear", 1, 1));
  }
  REQUIRE(is_loaded(kLinear));

  // Still callable: h_t = w_x x_t + w_h h_{t-1} + b with w_x = 2, w_h = 0.5, b = 1.
  const std::array<float, 3> params = {2.0f, 0.5f, 1.0f};  // w_x (1,1), w_h (1,1), b (1)
  const std::array<float, 2> src = {1.0f, 3.0f};           // (T=2, N=1, I=1)
  const float h0 = 4.0f;                                   // (S=1, N=1, H=1)
  std::array<float, 2> dst{};                              // (T, N, H)
  float h_final = 0;
  charnn_forward_args fa{2, 1, params.data(), src.data(), &h0, dst.data(), &h_final, 0, nullptr};
  cell->forward(fa);
  CHECK(dst[0] == 2.0f * 1 + 0.5f * 4 + 1);     // 5
  CHECK(dst[1] == 2.0f * 3 + 0.5f * 5.0f + 1);  // 9.5
  CHECK(h_final == dst[1]);

  // Moving the cell keeps it alive; destroying the last owner unloads the library.
  charnn::Cell moved = std::move(*cell);
  cell.reset();
  CHECK(is_loaded(kLinear));
  CHECK(moved.type() == "test_linear");
  { charnn::Cell gone = std::move(moved); }
  if (!loaded_elsewhere) CHECK_FALSE(is_loaded(kLinear));
}

TEST_CASE("the test cell runs its closed form through every Cell entry point",
          "[plugin][loader][cell]") {
  const auto reg = discover_test_dir();
  charnn::Cell cell = reg.create_cell("test_linear", 2, 1);
  REQUIRE(cell.params().size() == 3);
  CHECK(cell.params()[0].name == "w_x");
  CHECK(cell.params()[0].dims == std::vector<std::int64_t>{1, 2});
  CHECK(cell.params()[1].dims == std::vector<std::int64_t>{1, 1});
  CHECK(cell.params()[2].dims == std::vector<std::int64_t>{1});
  CHECK(cell.param_count() == 4);
  CHECK(cell.states() == std::vector<std::string>{"h"});
  CHECK(cell.signals() == std::vector<std::string>{"h", "wx"});
  CHECK(cell.input_size() == 2);
  CHECK(cell.hidden_size() == 1);

  std::vector<float> init(4, -7.0f);
  cell.init_params(init, 42);
  CHECK(init[3] == 0.0f);  // b starts at zero
  CHECK(init[0] != -7.0f);
  CHECK_THROWS_WITH(cell.init_params(std::span<float>(init.data(), 3), 1),
                    Contains("init_params got 3 floats, the layer has 4"));

  // w_x = (1, -1), w_h = 0.5, b = 0.25; x_0 = (3, 1), x_1 = (0, 2); h_{-1} = 0 (NULL state).
  const std::vector<float> params = {1.0f, -1.0f, 0.5f, 0.25f};
  const std::vector<float> src = {3.0f, 1.0f, 0.0f, 2.0f};  // (T=2, N=1, I=2)
  std::vector<float> dst(2), signals(4);                    // (T, N, H), (K=2, T, N, H)
  charnn_trace_args ta{2,          1,       params.data(),  src.data(), nullptr,
                       dst.data(), nullptr, signals.data(), nullptr};
  cell.trace(ta);
  const float h0 = 3 - 1 + 0.25f, h1 = -2 + 0.5f * h0 + 0.25f;
  CHECK(dst == std::vector<float>{h0, h1});
  CHECK(signals == std::vector<float>{h0, h1, 2.0f, -2.0f});

  // One-hot step with column 1 from h = 2: w_x[1] + 0.5 * 2 + 0.25.
  float state = 2.0f, out = 0;
  const std::int32_t col = 1;
  charnn_step_args sa{1, params.data(), nullptr, &col, &state, &out};
  cell.step(sa);
  CHECK(out == -1 + 1 + 0.25f);
  CHECK(state == out);

  // Backward of L = sum(h_t): dh_1 = 1, dh_0 = 1 + w_h = 1.5.
  std::vector<float> fdst(2);
  charnn_forward_args fa{2, 1, params.data(), src.data(), nullptr, fdst.data(), nullptr, 1, nullptr};
  cell.forward(fa);
  const std::vector<float> ones = {1.0f, 1.0f};
  std::vector<float> dparams(4, 0.0f), dsrc(4);
  float dstate = 0;
  charnn_backward_args ba{2,           1,       params.data(), src.data(),     nullptr, fdst.data(),
                          ones.data(), nullptr, dsrc.data(),   dparams.data(), &dstate, nullptr};
  cell.backward(ba);
  CHECK(dparams[0] == 1.5f * 3 + 1 * 0);  // dw_x = sum dh_t x_t
  CHECK(dparams[1] == 1.5f * 1 + 1 * 2);
  CHECK(dparams[2] == 1 * h0);  // dw_h = dh_1 h_0 (h_{-1} = 0)
  CHECK(dparams[3] == 2.5f);    // db
  CHECK(dsrc == std::vector<float>{1.5f, -1.5f, 1.0f, -1.0f});
  CHECK(dstate == 0.5f * 1.5f);
}

TEST_CASE("cell failures name the cell, its library and the plugin's reason",
          "[plugin][loader][cell]") {
  const auto reg = discover_test_dir();
  CHECK_THROWS_WITH(reg.create_cell("test_linear", 0, 4),
                    Contains("input and hidden sizes must be at least 1"));
  CHECK_THROWS_WITH(reg.create_cell("test_linear", 999, 2),
                    Contains("cell 'test_linear' (" + kLinear.string() +
                             "): cannot create a layer with input 999 and hidden 2 (not "
                             "supported): test_linear refuses input size 999"));

  charnn::Cell cell = reg.create_cell("test_linear", 1, 1);
  const std::vector<float> params(3), src(2), diff(2);  // a (T=2, N=1) problem
  std::vector<float> dst(2), dparams(3);
  charnn_backward_args ba{2,           1,       params.data(), src.data(),     nullptr, dst.data(),
                          diff.data(), nullptr, nullptr,       dparams.data(), nullptr, nullptr};
  const std::string msg = message_of([&] { cell.backward(ba); });  // no training forward first
  CHECK_THAT(msg, Contains("cell 'test_linear' (" + kLinear.string() + ")"));
  CHECK_THAT(msg, Contains("backward failed (wrong call order)"));
  CHECK_THAT(msg, Contains("needs a training forward"));

  charnn_forward_args fa{0, 1, params.data(), src.data(), nullptr, dst.data(), nullptr, 0, nullptr};
  CHECK_THROWS_WITH(cell.forward(fa), Contains("T, N >= 1"));
}

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs the charnn program with CHARNN_PLUGIN_PATH set to plugin_path and the given arguments
// (already shell-quoted where needed).
RunResult run_charnn(const std::string& plugin_path, const std::string& args) {
  const std::string cmd =
      "CHARNN_PLUGIN_PATH='" + plugin_path + "' '" CHARNN_EXE "' " + args + " 2>&1";
  RunResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe))
    r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_CASE("charnn cells --verbose lists the cells, the searched directories and the skips",
          "[plugin][loader][app]") {
  const RunResult r = run_charnn(kTestDir.string(), "cells --verbose --input 3 --hidden 2");
  const std::string& out = r.output;
  INFO(out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(out, Contains("test_linear 0.1.0  " + kLinear.string()));
  CHECK_THAT(out, Contains("params   w_x (2, 3), w_h (2, 2), b (2)  = 12 floats"));
  CHECK_THAT(out, Contains("states   h (N, 2)"));
  CHECK_THAT(out, Contains("CHARNN_PLUGIN_PATH  " + kTestDir.string()));
  CHECK_THAT(out, Contains("built-in            "));
  CHECK_THAT(out,
             Contains((kTestDir / "broken-abi-major.so").string() + ": built for plugin ABI " +
                      kNextMajor));
  CHECK_THAT(out, Contains((kTestDir / "broken-not-a-library.so").string() +
                           ": not a shared library"));
  CHECK_THAT(out, Contains("Skipped (13), not valid cell plugins:"));
}

TEST_CASE("charnn cells fails with exit code 1 on duplicate names and a bad --plugin file",
          "[plugin][loader][app]") {
  RunResult r = run_charnn((kTestDir / "dup").string(), "cells");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("charnn cells: error: two plugins claim the cell name 'test_dup'"));
  CHECK_THAT(r.output, Contains("charnn-cell-test_dup-a.so and "));
  CHECK_THAT(r.output, Contains("hint: remove or rename one of them"));

  r = run_charnn("", "cells --plugin '" + (kTestDir / "broken-null-entry.so").string() + "'");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("broken-null-entry.so: its entry point returned NULL"));

  // A plugin that cannot make a layer of the example size is listed with the reason, and the
  // command fails so that scripts notice.
  r = run_charnn(kTestDir.string(), "cells --input 999");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("test_linear 0.1.0  " + kLinear.string()));
  CHECK_THAT(r.output, Contains("  cannot create a layer of this size: cell 'test_linear'"));
  CHECK_THAT(r.output, Contains("refuses input size 999"));

  r = run_charnn("", "cells --input 0");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("--input and --hidden must be at least 1"));
}

TEST_CASE("a cut-short plugin is skipped with its reason and the others still load",
          "[plugin][loader]") {
  const fs::path dir = fs::temp_directory_path() / ("charnn-elf-skip-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path builtin = CHARNN_PLUGIN_DIR;
  fs::copy_file(builtin / "charnn-cell-elman.so", dir / "charnn-cell-elman.so");
  {
    std::ifstream in(builtin / "charnn-cell-lstm.so", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir / "charnn-cell-lstm.so", std::ios::binary)
        << bytes.substr(0, bytes.size() / 3);
  }
  PluginPathEnv env(dir.string());
  charnn::PluginSearch search;
  search.use_default_dir = false;
  const auto reg = charnn::PluginRegistry::discover(search);
  REQUIRE(reg.plugins().size() == 1);
  CHECK(reg.plugins()[0]->name() == "elman");
  REQUIRE(reg.skipped().size() == 1);
  CHECK_THAT(reg.skipped()[0].reason, Contains("cut short"));
  fs::remove_all(dir);
}
