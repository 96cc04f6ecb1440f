// Host side of one cell instance: creates it through the plugin's C table, reads its parameter,
// state and signal descriptions once, and turns every status code into a charnn::error naming
// the cell, its library and the plugin's own reason.
#include "charnn/cell.hpp"

#include <limits>
#include <string>
#include <utility>

#include "charnn/error.hpp"
#include "charnn/loaded_plugin.hpp"

namespace charnn {

namespace {

const char* status_name(charnn_status status) {
  switch (status) {
    case CHARNN_OK:
      return "ok";
    case CHARNN_ERR_ARGUMENT:
      return "bad argument";
    case CHARNN_ERR_MEMORY:
      return "out of memory";
    case CHARNN_ERR_BACKEND:
      return "math library failure";
    case CHARNN_ERR_STATE:
      return "wrong call order";
    case CHARNN_ERR_UNSUPPORTED:
      return "not supported";
    case CHARNN_ERR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

std::string describe(const Plugin& plugin) {
  return "cell '" + plugin.name() + "' (" + plugin.file().string() + ")";
}

// Multiplies sizes, refusing results that would not fit a buffer index.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& what) {
  if (a < 0 || b < 0 || (b != 0 && a > std::numeric_limits<std::int64_t>::max() / b))
    throw error(what + ": the size overflows");
  return a * b;
}

}  // namespace

std::int64_t TensorShape::numel() const {
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

Cell::Cell(std::shared_ptr<const Plugin> plugin, std::int64_t input_size, std::int64_t hidden_size)
    : plugin_(std::move(plugin)), input_size_(input_size), hidden_size_(hidden_size) {
  if (!plugin_) throw error("internal: a Cell needs a loaded plugin");
  const charnn_cell_api& api = plugin_->api();
  const std::string who = describe(*plugin_);
  if (input_size < 1 || hidden_size < 1)
    throw error(who + ": input and hidden sizes must be at least 1 (got " +
                std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");

  char err[512] = {};  // the plugin writes a NUL-terminated reason here on failure
  const charnn_status status = api.create(input_size, hidden_size, &handle_, err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (status != CHARNN_OK || !handle_) {
    handle_ = nullptr;  // a failed create owns nothing we could destroy
    throw error(who + ": cannot create a layer with input " + std::to_string(input_size) +
                    " and hidden " + std::to_string(hidden_size) + " (" + status_name(status) +
                    (err[0] ? std::string("): ") + err : std::string(")")),
                status == CHARNN_ERR_MEMORY ? "try a smaller hidden size" : "");
  }

  // From here on the destructor will not run if we throw, so clean up by hand.
  try {
    const std::int32_t np = api.num_params(handle_);
    if (np < 0) throw error(who + ": reports " + std::to_string(np) + " parameter tensors");
    params_.reserve(static_cast<std::size_t>(np));
    for (std::int32_t k = 0; k < np; ++k) {
      charnn_tensor_info info{};
      check(api.param_info(handle_, k, &info), "describing its parameters");
      if (info.ndims < 1 || info.ndims > CHARNN_MAX_DIMS)
        throw error(who + ": parameter " + std::to_string(k) + " has " +
                    std::to_string(info.ndims) + " dimensions (1 to " +
                    std::to_string(CHARNN_MAX_DIMS) + " allowed)");
      TensorShape shape;
      shape.name = info.name ? info.name : "param" + std::to_string(k);
      std::int64_t numel = 1;
      for (std::int32_t d = 0; d < info.ndims; ++d) {
        if (info.dims[d] < 1)
          throw error(who + ": parameter '" + shape.name + "' has a dimension of " +
                      std::to_string(info.dims[d]));
        shape.dims.push_back(info.dims[d]);
        numel = checked_mul(numel, info.dims[d], who + ": parameter '" + shape.name + "'");
      }
      if (param_count_ > std::numeric_limits<std::int64_t>::max() - numel)
        throw error(who + ": the parameter count overflows");
      param_count_ += numel;
      params_.push_back(std::move(shape));
    }

    const std::int32_t ns = api.num_states(handle_);
    if (ns < 1) throw error(who + ": reports " + std::to_string(ns) + " state tensors (need >= 1)");
    for (std::int32_t k = 0; k < ns; ++k) {
      const char* s = api.state_name(handle_, k);
      if (!s) throw error(who + ": state " + std::to_string(k) + " has no name");
      states_.emplace_back(s);
    }

    const std::int32_t nsig = api.num_signals(handle_);
    if (nsig < 0) throw error(who + ": reports " + std::to_string(nsig) + " trace signals");
    for (std::int32_t k = 0; k < nsig; ++k) {
      const char* s = api.signal_name(handle_, k);
      if (!s) throw error(who + ": trace signal " + std::to_string(k) + " has no name");
      signals_.emplace_back(s);
    }
  } catch (...) {
    api.destroy(handle_);
    handle_ = nullptr;
    throw;
  }
}

Cell::~Cell() {
  // Destroy the instance while its library is certainly loaded; plugin_ (and with it possibly the
  // library) is released afterwards, when the members are destroyed.
  if (handle_) plugin_->api().destroy(handle_);
}

Cell::Cell(Cell&& other) noexcept
    : plugin_(std::move(other.plugin_)),
      handle_(std::exchange(other.handle_, nullptr)),
      input_size_(other.input_size_),
      hidden_size_(other.hidden_size_),
      index_input_(other.index_input_),
      trace_index_input_(other.trace_index_input_),
      params_(std::move(other.params_)),
      param_count_(std::exchange(other.param_count_, 0)),
      states_(std::move(other.states_)),
      signals_(std::move(other.signals_)) {}

Cell& Cell::operator=(Cell&& other) noexcept {
  if (this != &other) {
    if (handle_) plugin_->api().destroy(handle_);  // before our plugin_ reference is dropped
    plugin_ = std::move(other.plugin_);
    handle_ = std::exchange(other.handle_, nullptr);
    input_size_ = other.input_size_;
    hidden_size_ = other.hidden_size_;
    index_input_ = other.index_input_;
    trace_index_input_ = other.trace_index_input_;
    params_ = std::move(other.params_);
    param_count_ = std::exchange(other.param_count_, 0);
    states_ = std::move(other.states_);
    signals_ = std::move(other.signals_);
  }
  return *this;
}

const std::string& Cell::type() const {
  return plugin_->name();
}

void Cell::check(charnn_status status, const char* what) const {
  if (status == CHARNN_OK) return;
  const char* reason = handle_ ? plugin_->api().last_error(handle_) : nullptr;
  std::string message = describe(*plugin_) + ": " + what + " failed (" + status_name(status) + ")";
  if (reason && *reason) message += ": " + std::string(reason);
  std::string hint;
  if (status == CHARNN_ERR_MEMORY) hint = "try a smaller batch, sequence length or hidden size";
  if (status == CHARNN_ERR_INTERNAL) hint = "this is a bug in the '" + plugin_->name() + "' plugin";
  throw error(message, hint);
}

void Cell::init_params(std::span<float> params, std::uint64_t seed) const {
  if (static_cast<std::int64_t>(params.size()) != param_count_)
    throw error(describe(*plugin_) + ": init_params got " + std::to_string(params.size()) +
                " floats, the layer has " + std::to_string(param_count_));
  check(plugin_->api().init_params(handle_, params.data(), seed), "init_params");
}

void Cell::forward(const charnn_forward_args& args) {
  if (args.T < 1 || args.N < 1 || !args.params ||
      !has_input(args.src, args.src_index, index_input_) || !args.dst)
    throw error(describe(*plugin_) + ": forward needs T, N >= 1 and params, " +
                input_name(index_input_) + ", dst buffers");
  check(plugin_->api().forward(handle_, &args), "forward");
}

void Cell::backward(const charnn_backward_args& args) {
  if (args.T < 1 || args.N < 1 || !args.params ||
      !has_input(args.src, args.src_index, index_input_) || !args.dst || !args.diff_dst ||
      !args.diff_params || (index_input_ && args.diff_src))
    throw error(describe(*plugin_) + ": backward needs T, N >= 1 and params, " +
                input_name(index_input_) + ", dst, diff_dst, diff_params buffers" +
                (index_input_ ? " (and no diff_src: the input is an index)" : ""));
  check(plugin_->api().backward(handle_, &args), "backward");
}

void Cell::step(const charnn_step_args& args) {
  if (args.N < 1 || !args.params || (!args.src && !args.src_index) || !args.state || !args.dst)
    throw error(describe(*plugin_) +
                ": step needs N >= 1 and params, src or src_index, state, dst buffers");
  check(plugin_->api().step(handle_, &args), "step");
}

decltype(charnn_cell_api::prepare_step) Cell::plugin_api_prepare_step() const {
  // The registry zero-fills what an older (ABI 1.0) table lacks, so NULL means "not provided".
  return plugin_->api().prepare_step;
}

bool Cell::prepare_step(const float* params, charnn_precision precision) {
  if (!params) throw error(describe(*plugin_) + ": prepare_step needs a params buffer");
  auto fn = plugin_api_prepare_step();
  if (!fn) return false;
  const charnn_status status = fn(handle_, params, static_cast<std::int32_t>(precision));
  if (status == CHARNN_ERR_UNSUPPORTED) return false;
  check(status, "prepare_step");
  return true;
}

bool Cell::set_index_input(bool enable) {
  // NULL before ABI 1.2 (zero-filled)
  return switch_input(plugin_->api().set_index_input, enable, index_input_, "set_index_input");
}

bool Cell::set_trace_index_input(bool enable) {
  // NULL before ABI 1.5 (zero-filled)
  return switch_input(plugin_->api().set_trace_index_input, enable, trace_index_input_,
                      "set_trace_index_input");
}

// An optional call that switches passes to the input by index: false when the plugin lacks it
// or refuses (the flag then says dense rows), other failures throw.
bool Cell::switch_input(charnn_status (*fn)(charnn_cell*, std::int32_t), bool enable, bool& flag,
                        const char* what) {
  if (!fn) {
    flag = false;
    return !enable;
  }
  const charnn_status status = fn(handle_, enable ? 1 : 0);
  if (status == CHARNN_ERR_UNSUPPORTED) return !enable;
  check(status, what);
  flag = enable;
  return true;
}

// The input a pass reads: src, or src_index once the pass was switched to it.
bool Cell::has_input(const float* src, const std::int32_t* src_index, bool by_index) {
  return by_index ? src_index != nullptr : src != nullptr;
}

std::string Cell::input_name(bool by_index) {
  return by_index ? "src_index" : "src";
}

bool Cell::set_train_precision(charnn_precision precision) {
  auto fn = plugin_->api().set_train_precision;  // NULL in an ABI 1.0 table (zero-filled)
  if (!fn) return precision == CHARNN_PRECISION_F32;
  const charnn_status status = fn(handle_, static_cast<std::int32_t>(precision));
  if (status == CHARNN_ERR_UNSUPPORTED) return false;
  check(status, "set_train_precision");
  return true;
}

void Cell::release_step() {
  if (auto fn = plugin_api_prepare_step()) check(fn(handle_, nullptr, 0), "releasing prepare_step");
}

void Cell::trace(const charnn_trace_args& args) {
  if (args.T < 1 || args.N < 1 || !args.params ||
      !has_input(args.src, args.src_index, trace_index_input_) || !args.dst ||
      (!args.signals && !signals_.empty()))
    throw error(describe(*plugin_) + ": trace needs T, N >= 1 and params, " +
                input_name(trace_index_input_) + ", dst, signals buffers");
  check(plugin_->api().trace(handle_, &args), "trace");
}

}  // namespace charnn
