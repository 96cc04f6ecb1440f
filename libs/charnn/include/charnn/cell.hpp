// Host side of a cell plugin: one recurrent layer instance, created from a loaded plugin.
// Wraps the C function table, turns status codes into charnn::error, and keeps the plugin's
// library loaded for as long as the layer lives.
#pragma once

#include <charnn/plugin.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace charnn {

class Plugin;

struct TensorShape {
  std::string name;
  std::vector<std::int64_t> dims;
  std::int64_t numel() const;
};

class Cell {
 public:
  Cell(std::shared_ptr<const Plugin> plugin, std::int64_t input_size, std::int64_t hidden_size);
  ~Cell();
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;
  Cell(Cell&& other) noexcept;
  Cell& operator=(Cell&& other) noexcept;

  const std::string& type() const;  // the plugin's cell name, e.g. "lstm"
  const Plugin& plugin() const { return *plugin_; }
  std::int64_t input_size() const { return input_size_; }
  std::int64_t hidden_size() const { return hidden_size_; }

  const std::vector<TensorShape>& params() const { return params_; }
  std::int64_t param_count() const { return param_count_; }             // floats in the flat buffer
  const std::vector<std::string>& states() const { return states_; }    // each (N, H)
  const std::vector<std::string>& signals() const { return signals_; }  // what trace() records

  void init_params(std::span<float> params, std::uint64_t seed) const;
  // The args follow plugin.h; failures throw charnn::error naming the cell and the reason.
  void forward(const charnn_forward_args& args);
  void backward(const charnn_backward_args& args);
  void step(const charnn_step_args& args);
  void trace(const charnn_trace_args& args);

  // The optional prepared one-step path (plugin ABI 1.1, see prepare_step in plugin.h): the plugin
  // may keep a copy of the weights at `params` (reordered, or rounded to bfloat16) and use it in
  // step() calls with that same pointer. The caller promises not to change those floats until
  // the next prepare_step or release_step. Returns false when the plugin has no prepared path or
  // not in this precision (nothing is prepared; step() reads params as before); other failures
  // throw. release_step() drops the copy (a no-op when there is none).
  bool prepare_step(const float* params, charnn_precision precision);
  void release_step();
  bool has_prepare_step() const { return plugin_api_prepare_step() != nullptr; }

  // Mixed-precision training (plugin ABI 1.1, set_train_precision in plugin.h): from the next
  // training forward on, the cell rounds its matrix products' inputs to `precision`. Returns
  // false when the plugin does not offer it (the cell keeps training in float32); other
  // failures throw.
  bool set_train_precision(charnn_precision precision);

  // One-hot input given by index (plugin ABI 1.2, set_index_input in plugin.h): forward and
  // backward then read args.src_index, not args.src. Returns false when the plugin does not
  // offer it (the cell keeps reading src); other failures throw.
  bool set_index_input(bool enable);
  bool index_input() const { return index_input_; }
  // The same for trace (plugin ABI 1.5, set_trace_index_input in plugin.h): trace then reads
  // args.src_index, not args.src.
  bool set_trace_index_input(bool enable);
  bool trace_index_input() const { return trace_index_input_; }

 private:
  void check(charnn_status status, const char* what) const;
  bool switch_input(charnn_status (*fn)(charnn_cell*, std::int32_t), bool enable, bool& flag,
                    const char* what);
  static bool has_input(const float* src, const std::int32_t* src_index, bool by_index);
  static std::string input_name(bool by_index);
  decltype(charnn_cell_api::prepare_step) plugin_api_prepare_step() const;

  std::shared_ptr<const Plugin> plugin_;
  charnn_cell* handle_ = nullptr;
  std::int64_t input_size_ = 0, hidden_size_ = 0;
  bool index_input_ = false, trace_index_input_ = false;
  std::vector<TensorShape> params_;
  std::int64_t param_count_ = 0;
  std::vector<std::string> states_, signals_;
};

}  // namespace charnn
