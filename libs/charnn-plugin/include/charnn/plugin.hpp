// The C++ side of the cell plugin interface: lets a plugin author write an ordinary class and
// expose it with one macro. This header (with plugin.h) is all a plugin includes from charnn.
//
//   class MyCell final : public charnn::plugin::Cell {
//    public:
//     MyCell(int64_t input_size, int64_t hidden_size);
//     ... override the pure virtuals ...
//   };
//   CHARNN_DECLARE_CELL(MyCell, "mycell", "1.0.0", "what it is")
//
// Exceptions thrown by the class become status codes plus a message at the C boundary: throw
// charnn::plugin::Error for a specific status, anything else maps to CHARNN_ERR_INTERNAL.
#ifndef CHARNN_PLUGIN_HPP
#define CHARNN_PLUGIN_HPP

#include <charnn/plugin.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace charnn::plugin {

class Error : public std::runtime_error {
 public:
  Error(charnn_status status, const std::string& what)
      : std::runtime_error(what), status_(status) {}
  charnn_status status() const noexcept { return status_; }

 private:
  charnn_status status_;
};

// One recurrent layer. The host guarantees the buffer sizes documented in plugin.h.
class Cell {
 public:
  virtual ~Cell() = default;
  // Parameter tensors, in the order they sit in the flat buffer. Names must be static strings.
  virtual std::vector<charnn_tensor_info> params() const = 0;
  // State tensor names, each (N, H): {"h"} or {"h", "c"}.
  virtual std::vector<const char*> states() const = 0;
  // Named per-step signals that trace() records, each (T, N, H).
  virtual std::vector<const char*> signals() const = 0;
  virtual void init_params(float* params, uint64_t seed) const = 0;
  virtual void forward(const charnn_forward_args& args) = 0;
  virtual void backward(const charnn_backward_args& args) = 0;
  virtual void step(const charnn_step_args& args) = 0;
  virtual void trace(const charnn_trace_args& args) = 0;
  // Optional (ABI 1.1), see prepare_step in plugin.h: keep a copy of the weights at params for
  // step() calls with that same pointer, in the given precision; params == nullptr releases it.
  // The default has no prepared path: it throws Error(CHARNN_ERR_UNSUPPORTED), which the host
  // reads as "use plain step()"; a release is always accepted.
  virtual void prepare_step(const float* params, charnn_precision precision) {
    (void)precision;
    if (params) throw Error(CHARNN_ERR_UNSUPPORTED, "this cell has no prepared one-step path");
  }
  // Optional (ABI 1.1), see set_train_precision in plugin.h. The default trains in float32 only.
  virtual void set_train_precision(charnn_precision precision) {
    if (precision != CHARNN_PRECISION_F32)
      throw Error(CHARNN_ERR_UNSUPPORTED, "this cell trains in float32 only");
  }
  // Optional (ABI 1.2), see set_index_input in plugin.h: once enabled, forward and backward read
  // args.src_index instead of args.src. The default reads src only.
  virtual void set_index_input(bool enable) {
    if (enable) throw Error(CHARNN_ERR_UNSUPPORTED, "this cell reads a dense src only");
  }
  // Optional (ABI 1.5), see set_trace_index_input in plugin.h: once enabled, trace reads
  // args.src_index instead of args.src. The default traces a dense src only.
  virtual void set_trace_index_input(bool enable) {
    if (enable) throw Error(CHARNN_ERR_UNSUPPORTED, "this cell traces a dense src only");
  }
  // Optional (ABI 1.3), see max_learning_rate in plugin.h: a derived class that trains stably
  // only below some peak rate declares `static constexpr double kMaxLearningRate = ...;`.
  // Optional (ABI 1.4), see dropout_exposure in plugin.h: a derived class that needs dropout
  // sooner (or later) than the host's default declares `static constexpr double
  // kDropoutExposure = ...;`.
};

}  // namespace charnn::plugin

// The opaque handle the host holds. Each plugin library has its own private copy of this type.
struct charnn_cell {
  std::unique_ptr<charnn::plugin::Cell> impl;
  std::vector<charnn_tensor_info> params;
  std::vector<const char*> states;
  std::vector<const char*> signals;
  std::string last_error;
};

namespace charnn::plugin::detail {

inline void copy_error(const char* what, char* err, size_t err_len) {
  if (err && err_len > 0) {
    std::strncpy(err, what, err_len - 1);
    err[err_len - 1] = '\0';
  }
}

template <class F>
charnn_status guarded(charnn_cell* cell, F&& body) noexcept {
  try {
    body();
    return CHARNN_OK;
  } catch (const Error& e) {
    if (cell) cell->last_error = e.what();
    return e.status();
  } catch (const std::bad_alloc&) {
    if (cell) cell->last_error = "out of memory";
    return CHARNN_ERR_MEMORY;
  } catch (const std::exception& e) {
    if (cell) cell->last_error = e.what();
    return CHARNN_ERR_INTERNAL;
  } catch (...) {
    if (cell) cell->last_error = "unknown exception";
    return CHARNN_ERR_INTERNAL;
  }
}

// A cell class declares its learning-rate limit (ABI 1.3) as
// `static constexpr double kMaxLearningRate = ...;`; without one there is none (0). C++17.
template <class C, class = void>
struct DeclaredMaxLearningRate {
  static constexpr double value = 0.0;
};
template <class C>
struct DeclaredMaxLearningRate<C, std::void_t<decltype(C::kMaxLearningRate)>> {
  static constexpr double value = C::kMaxLearningRate;
};

// Likewise `static constexpr double kDropoutExposure = ...;` (ABI 1.4); without one, 0.
template <class C, class = void>
struct DeclaredDropoutExposure {
  static constexpr double value = 0.0;
};
template <class C>
struct DeclaredDropoutExposure<C, std::void_t<decltype(C::kDropoutExposure)>> {
  static constexpr double value = C::kDropoutExposure;
};

template <class C>
struct Adapter {
  static charnn_status create(int64_t input_size, int64_t hidden_size, charnn_cell** out, char* err,
                              size_t err_len) noexcept {
    if (!out) return CHARNN_ERR_ARGUMENT;
    *out = nullptr;
    try {
      if (input_size < 1 || hidden_size < 1)
        throw Error(CHARNN_ERR_ARGUMENT, "input and hidden sizes must be at least 1");
      auto cell = std::make_unique<charnn_cell>();
      cell->impl = std::make_unique<C>(input_size, hidden_size);
      cell->params = cell->impl->params();
      cell->states = cell->impl->states();
      cell->signals = cell->impl->signals();
      *out = cell.release();
      return CHARNN_OK;
    } catch (const Error& e) {
      copy_error(e.what(), err, err_len);
      return e.status();
    } catch (const std::bad_alloc&) {
      copy_error("out of memory", err, err_len);
      return CHARNN_ERR_MEMORY;
    } catch (const std::exception& e) {
      copy_error(e.what(), err, err_len);
      return CHARNN_ERR_INTERNAL;
    } catch (...) {
      copy_error("unknown exception", err, err_len);
      return CHARNN_ERR_INTERNAL;
    }
  }
  static void destroy(charnn_cell* cell) noexcept { delete cell; }
  static int32_t num_params(const charnn_cell* cell) noexcept {
    return static_cast<int32_t>(cell->params.size());
  }
  static charnn_status param_info(const charnn_cell* cell, int32_t index,
                                  charnn_tensor_info* out) noexcept {
    if (!out || index < 0 || index >= num_params(cell)) return CHARNN_ERR_ARGUMENT;
    *out = cell->params[static_cast<size_t>(index)];
    return CHARNN_OK;
  }
  static int32_t num_states(const charnn_cell* cell) noexcept {
    return static_cast<int32_t>(cell->states.size());
  }
  static const char* state_name(const charnn_cell* cell, int32_t index) noexcept {
    if (index < 0 || index >= num_states(cell)) return nullptr;
    return cell->states[static_cast<size_t>(index)];
  }
  static int32_t num_signals(const charnn_cell* cell) noexcept {
    return static_cast<int32_t>(cell->signals.size());
  }
  static const char* signal_name(const charnn_cell* cell, int32_t index) noexcept {
    if (index < 0 || index >= num_signals(cell)) return nullptr;
    return cell->signals[static_cast<size_t>(index)];
  }
  static charnn_status init_params(const charnn_cell* cell, float* params, uint64_t seed) noexcept {
    if (!params) return CHARNN_ERR_ARGUMENT;
    auto* mut = const_cast<charnn_cell*>(cell);
    return guarded(mut, [&] { cell->impl->init_params(params, seed); });
  }
  static charnn_status forward(charnn_cell* cell, const charnn_forward_args* a) noexcept {
    if (!a) return CHARNN_ERR_ARGUMENT;
    return guarded(cell, [&] { cell->impl->forward(*a); });
  }
  static charnn_status backward(charnn_cell* cell, const charnn_backward_args* a) noexcept {
    if (!a) return CHARNN_ERR_ARGUMENT;
    return guarded(cell, [&] { cell->impl->backward(*a); });
  }
  static charnn_status step(charnn_cell* cell, const charnn_step_args* a) noexcept {
    if (!a) return CHARNN_ERR_ARGUMENT;
    return guarded(cell, [&] { cell->impl->step(*a); });
  }
  static charnn_status trace(charnn_cell* cell, const charnn_trace_args* a) noexcept {
    if (!a) return CHARNN_ERR_ARGUMENT;
    return guarded(cell, [&] { cell->impl->trace(*a); });
  }
  static charnn_status prepare_step(charnn_cell* cell, const float* params,
                                    int32_t precision) noexcept {
    if (params && precision != CHARNN_PRECISION_F32 && precision != CHARNN_PRECISION_BF16 &&
        precision != CHARNN_PRECISION_INT8) {
      // A precision from a newer host: not an error in the call, just one this cell lacks.
      cell->last_error = "precision " + std::to_string(precision) + " is not known to this cell";
      return CHARNN_ERR_UNSUPPORTED;
    }
    return guarded(
        cell, [&] { cell->impl->prepare_step(params, static_cast<charnn_precision>(precision)); });
  }
  static charnn_status set_train_precision(charnn_cell* cell, int32_t precision) noexcept {
    if (precision != CHARNN_PRECISION_F32 && precision != CHARNN_PRECISION_BF16) {
      cell->last_error = "precision " + std::to_string(precision) + " is not known to this cell";
      return CHARNN_ERR_UNSUPPORTED;
    }
    return guarded(
        cell, [&] { cell->impl->set_train_precision(static_cast<charnn_precision>(precision)); });
  }
  static charnn_status set_index_input(charnn_cell* cell, int32_t enable) noexcept {
    return guarded(cell, [&] { cell->impl->set_index_input(enable != 0); });
  }
  static charnn_status set_trace_index_input(charnn_cell* cell, int32_t enable) noexcept {
    return guarded(cell, [&] { cell->impl->set_trace_index_input(enable != 0); });
  }
  static const char* last_error(const charnn_cell* cell) noexcept {
    return cell ? cell->last_error.c_str() : "";
  }

  static charnn_cell_api make(const char* name, const char* version, const char* description) {
    charnn_cell_api api{};
    api.struct_size = sizeof(charnn_cell_api);
    api.abi_major = CHARNN_PLUGIN_ABI_MAJOR;
    api.abi_minor = CHARNN_PLUGIN_ABI_MINOR;
    api.name = name;
    api.version = version;
    api.description = description;
    api.create = &create;
    api.destroy = &destroy;
    api.num_params = &num_params;
    api.param_info = &param_info;
    api.num_states = &num_states;
    api.state_name = &state_name;
    api.init_params = &init_params;
    api.forward = &forward;
    api.backward = &backward;
    api.step = &step;
    api.num_signals = &num_signals;
    api.signal_name = &signal_name;
    api.trace = &trace;
    api.last_error = &last_error;
    api.prepare_step = &prepare_step;
    api.set_train_precision = &set_train_precision;
    api.set_index_input = &set_index_input;
    api.max_learning_rate = DeclaredMaxLearningRate<C>::value;
    api.dropout_exposure = DeclaredDropoutExposure<C>::value;
    api.set_trace_index_input = &set_trace_index_input;
    return api;
  }
};

}  // namespace charnn::plugin::detail

#define CHARNN_DECLARE_CELL(CellClass, name, version, description)                      \
  extern "C" CHARNN_PLUGIN_EXPORT const charnn_cell_api* charnn_plugin_entry(void) {    \
    static const charnn_cell_api api =                                                  \
        ::charnn::plugin::detail::Adapter<CellClass>::make(name, version, description); \
    return &api;                                                                        \
  }

#endif  // CHARNN_PLUGIN_HPP
