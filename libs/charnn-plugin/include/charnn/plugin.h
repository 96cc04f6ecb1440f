/* charnn cell plugin interface, the plain-C side.
 *
 * A cell plugin is a shared library that exports one function, CHARNN_PLUGIN_ENTRY_NAME, returning
 * a pointer to a static charnn_cell_api. Only plain structs, raw float buffers, sizes and status
 * codes cross this boundary: no exceptions, no C++ types, so a plugin built with another compiler
 * or standard library still loads.
 *
 * Versioning: the host rejects a plugin whose abi_major differs from its own, and one whose
 * struct_size is larger than the host's sizeof(charnn_cell_api) (a newer plugin). A smaller
 * struct_size (an older plugin of the same major) is accepted: the host treats the missing
 * trailing function pointers as NULL. New optional functions are only ever appended, with an
 * abi_minor bump. The *_args structs only ever grow at the end, and a plugin reads an appended
 * field only after the host has switched it on through the optional call that introduced it (a
 * host that does not know the call passes the shorter struct and never switches it on).
 *
 * Tensor conventions (row-major, float32, all buffers owned by the host):
 *   T time steps, N parallel streams, I input width, H hidden width, S = num_states.
 *   src  (T, N, I)      dst  (T, N, H)      state (S, N, H)   e.g. LSTM: state 0 = h, 1 = c
 *   params: one flat buffer per layer; the tensors described by param_info, back to back in
 *   index order, each row-major with the dims given. The layout of each tensor is the plugin's
 *   choice (e.g. oneDNN's ldigo) and is opaque to the host except for its size.
 *
 * The contract of every call (`charnn check-cell --plugin FILE` tests a plugin against it):
 *   - Ownership: every buffer belongs to the host and is valid for the call only. A plugin keeps
 *     no pointer to one after returning, except the params of prepare_step (see there). What it
 *     allocates (workspace, copies) it frees in destroy.
 *   - Aliasing: state_in may be the same buffer as state_out, and diff_state_out as diff_state_in
 *     (a host carrying the state in place); read the one before writing the other. No other
 *     buffers overlap.
 *   - What may be cached: a training forward (training != 0) may keep what its backward needs
 *     inside the instance; the host calls backward next, on the same instance, with the same T,
 *     N, params, src and state_in, and the same dst the forward wrote (see the backward args).
 *     Parameters must be read afresh on every call (the optimiser changes them between steps);
 *     only prepare_step may keep a copy.
 *   - Results: forward, step and trace are deterministic functions of their inputs; two
 *     segments with the state carried equal one sequence of both; step() equals forward with
 *     T = 1; trace's dst equals forward's. backward ADDS into diff_params (the host zeroes it
 *     once per training step) and overwrites diff_src and diff_state_in.
 *   - Threads: the host calls one instance from one thread at a time, and may use different
 *     instances from different threads. Inside a call a plugin may run parallel work (OpenMP,
 *     oneDNN), using at most omp_get_max_threads() threads, and its results must not depend on
 *     that count beyond the order of additions.
 *   - Errors: return a status and leave the reason for last_error (plugin.hpp does both for an
 *     exception); never abort or exit the process.
 *
 * History: 1.0 the first table; 1.1 appends the optional prepare_step (a prepared, possibly
 * reduced-precision copy of the weights for the one-step sampling path) and the optional
 * set_train_precision (mixed-precision training passes); 1.2 appends the optional
 * set_index_input and the src_index fields of charnn_forward_args and charnn_backward_args (a
 * one-hot input given by index: layer 0 over a large vocabulary); 1.3 appends the optional data
 * field max_learning_rate (the highest peak rate the cell trains stably at; 0 = no limit); 1.4
 * appends the optional data field dropout_exposure (how soon the cell needs dropout); 1.5 appends
 * the optional set_trace_index_input and the src_index field of charnn_trace_args (trace, as
 * forward, over a one-hot input given by index).
 */
#ifndef CHARNN_PLUGIN_H
#define CHARNN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHARNN_PLUGIN_ABI_MAJOR 1
#define CHARNN_PLUGIN_ABI_MINOR 5
#define CHARNN_PLUGIN_ENTRY_NAME "charnn_plugin_entry"
#define CHARNN_MAX_DIMS 4

#if defined(_WIN32)
#define CHARNN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define CHARNN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef enum charnn_status {
  CHARNN_OK = 0,
  CHARNN_ERR_ARGUMENT = 1,    /* bad sizes, NULL where a buffer is required */
  CHARNN_ERR_MEMORY = 2,      /* allocation failed */
  CHARNN_ERR_BACKEND = 3,     /* the math library failed */
  CHARNN_ERR_STATE = 4,       /* e.g. backward without a preceding training forward */
  CHARNN_ERR_UNSUPPORTED = 5, /* optional feature not provided */
  CHARNN_ERR_INTERNAL = 6
} charnn_status;

/* What a prepared one-step path may do to the weights (see prepare_step). */
typedef enum charnn_precision {
  /* float32 throughout: step() results match the unprepared path up to float rounding (the
   * summation order may differ, ~1e-6 relative). */
  CHARNN_PRECISION_F32 = 0,
  /* Weights (and the matrix products' inputs) rounded to bfloat16, products accumulated in float32,
   * states and outputs float32: ~1e-3 relative error in the pre-activations, for about half the
   * memory traffic per step. */
  CHARNN_PRECISION_BF16 = 1,
  /* prepare_step only: weights as int8 with one scale per output column, the matrix products'
   * inputs as int8 with one scale per stream and step (max |x| / 127), int32 accumulation: a
   * quarter of float32's memory traffic, ~1e-2 absolute error in the pre-activations. */
  CHARNN_PRECISION_INT8 = 2
} charnn_precision;

typedef struct charnn_tensor_info {
  const char* name; /* stable, owned by the plugin: "w_x", "w_h", "b", ... */
  int32_t ndims;
  int64_t dims[CHARNN_MAX_DIMS];
} charnn_tensor_info;

typedef struct charnn_cell charnn_cell; /* opaque: one layer instance */

typedef struct charnn_forward_args {
  int64_t T, N;
  const float* params;   /* flat, see above */
  const float* src;      /* (T, N, I) */
  const float* state_in; /* (S, N, H); NULL means zeros */
  float* dst;            /* (T, N, H) */
  float* state_out;      /* (S, N, H); may be NULL */
  int32_t training;      /* nonzero: keep what backward needs inside the instance */
  /* ABI 1.2, read only after set_index_input(cell, 1): (T, N), the column of the single 1 in
   * each row of a one-hot src, which is then NULL. */
  const int32_t* src_index;
} charnn_forward_args;

/* Consumes the workspace of the immediately preceding training forward on the same instance,
 * with the same T, N, params, src and state_in. Gradients are ADDED to diff_params, so the host
 * zeroes them once per step. */
typedef struct charnn_backward_args {
  int64_t T, N;
  const float* params;
  const float* src;            /* (T, N, I), as given to forward */
  const float* state_in;       /* (S, N, H), as given to forward; NULL means zeros */
  const float* dst;            /* (T, N, H), what forward wrote */
  const float* diff_dst;       /* (T, N, H) */
  const float* diff_state_out; /* (S, N, H); NULL means zeros */
  float* diff_src;             /* (T, N, I); NULL if the host does not need it */
  float* diff_params;          /* flat, same layout as params; accumulated into */
  float* diff_state_in;        /* (S, N, H); NULL if the host does not need it */
  /* ABI 1.2, read only after set_index_input(cell, 1): as given to forward; src is then NULL
   * and diff_src must be NULL. */
  const int32_t* src_index;
} charnn_backward_args;

/* One inference step for sampling: T = 1, no workspace kept. */
typedef struct charnn_step_args {
  int64_t N;
  const float* params;
  const float* src;         /* (N, I); ignored when src_index is set */
  const int32_t* src_index; /* (N) or NULL: src is one-hot with a 1 at these columns */
  float* state;             /* (S, N, H), read and updated in place */
  float* dst;               /* (N, H) */
} charnn_step_args;

/* Inference over a sequence that also records the cell's named internal signals. */
typedef struct charnn_trace_args {
  int64_t T, N;
  const float* params;
  const float* src;      /* (T, N, I) */
  const float* state_in; /* (S, N, H); NULL means zeros */
  float* dst;            /* (T, N, H) */
  float* state_out;      /* (S, N, H); may be NULL */
  float* signals;        /* (K, T, N, H), K = num_signals, in signal_name order */
  /* ABI 1.5, read only after set_trace_index_input(cell, 1): (T, N), the column of the single 1
   * in each row of a one-hot src, which is then NULL. */
  const int32_t* src_index;
} charnn_trace_args;

typedef struct charnn_cell_api {
  uint32_t struct_size; /* sizeof(charnn_cell_api) as the plugin was compiled */
  uint16_t abi_major;   /* CHARNN_PLUGIN_ABI_MAJOR */
  uint16_t abi_minor;   /* CHARNN_PLUGIN_ABI_MINOR */
  const char* name;     /* unique cell name: lower-case letters, digits, '_' */
  const char* version;  /* the plugin's own version, e.g. "1.0.0" */
  const char* description;

  /* All of the following are required. err receives a NUL-terminated reason on failure. */
  charnn_status (*create)(int64_t input_size, int64_t hidden_size, charnn_cell** out, char* err,
                          size_t err_len);
  void (*destroy)(charnn_cell* cell);
  int32_t (*num_params)(const charnn_cell* cell);
  charnn_status (*param_info)(const charnn_cell* cell, int32_t index, charnn_tensor_info* out);
  int32_t (*num_states)(const charnn_cell* cell);
  const char* (*state_name)(const charnn_cell* cell, int32_t index); /* "h", "c" */
  /* Fills the whole flat parameter buffer with a good initialisation for training. */
  charnn_status (*init_params)(const charnn_cell* cell, float* params, uint64_t seed);
  charnn_status (*forward)(charnn_cell* cell, const charnn_forward_args* args);
  charnn_status (*backward)(charnn_cell* cell, const charnn_backward_args* args);
  charnn_status (*step)(charnn_cell* cell, const charnn_step_args* args);
  int32_t (*num_signals)(const charnn_cell* cell);
  const char* (*signal_name)(const charnn_cell* cell, int32_t index); /* "h", "c", "i", ... */
  charnn_status (*trace)(charnn_cell* cell, const charnn_trace_args* args);
  /* Why the last call on this instance failed; never NULL (may be ""). */
  const char* (*last_error)(const charnn_cell* cell);

  /* ---- ABI 1.1: optional; NULL (or absent, in an older plugin's shorter table) means the cell has
   * no prepared path, and step() alone is used. ---- */

  /* Prepares the one-step path for the parameter buffer `params` (the same flat layout as
   * everywhere): the plugin may keep a copy of the weights reordered for its math library and/or
   * in the given charnn_precision. Contract:
   *   - after prepare_step(cell, params, precision) returns CHARNN_OK, step() calls whose
   *     args->params is this same pointer may use that copy instead of reading params;
   *   - the host promises not to change the floats at params until it calls prepare_step again
   *     (with other params, or with params = NULL, which releases the copy and always succeeds);
   *   - step() with any other params pointer, forward, backward and trace never use the copy;
   *   - CHARNN_ERR_UNSUPPORTED: this precision is not available (e.g. the CPU has no bfloat16
   *     support); nothing is prepared and step() works as without the call.
   * Preparing may allocate and take time (it runs once, not per step). */
  charnn_status (*prepare_step)(charnn_cell* cell, const float* params, int32_t precision);

  /* Sets the arithmetic of this instance's training passes (forward with training != 0, and
   * backward) from the next call on: CHARNN_PRECISION_F32 (every cell's default) or
   * CHARNN_PRECISION_BF16, i.e. mixed precision: the matrix products' inputs are rounded to
   * bfloat16 and accumulated in float32, while params, gradients, states and every buffer the host
   * sees stay float32 (the host code is the same in both). Inference passes (forward with
   * training == 0, step without prepare_step, trace) stay float32.
   * CHARNN_ERR_UNSUPPORTED: not available here (e.g. the CPU has no bfloat16 support); the
   * setting is unchanged. */
  charnn_status (*set_train_precision)(charnn_cell* cell, int32_t precision);

  /* ---- ABI 1.2: optional; NULL (or absent) means the cell reads src only. ---- */

  /* enable != 0: from the next call on, forward and backward on this instance take their input as
   * src_index (see the args) instead of src, so X . W_x is a gather of W_x's rows and X^T . dA a
   * scatter-add into them, instead of products with a (T*N, I) matrix of zeros and ones. The host
   * uses it for layer 0, whose input is one-hot over the vocabulary. enable == 0 switches back.
   * step and trace are not affected (step has its own src_index; trace has set_trace_index_input).
   */
  charnn_status (*set_index_input)(charnn_cell* cell, int32_t enable);

  /* ---- ABI 1.3: optional; 0 (or absent) means no limit. ---- */

  /* The highest peak learning rate (Adam, the host's warm-up and schedule) at which the cell's
   * author found it to train stably; `charnn train --lr auto` plans no higher rate for a model with
   * this cell. A finite number >= 0. The built-in GRU declares 2.5e-3: at a constant 1e-2 it got
   * worse after ~700 iterations on two corpora and diverged on one, where the LSTM trains well at
   * 2e-2 (docs/training.md). */
  double max_learning_rate;

  /* ---- ABI 1.4: optional; 0 (or absent) means the host's default. ---- */

  /* The memorisation exposure (planned passes over the text x parameters per unit of text) at
   * which `charnn train --dropout auto` starts dropout, at 0.1, adding 0.1 per doubling up to 0.5.
   * The host's default, 128, was measured on the LSTM. A finite number >= 0. The built-in GRU
   * declares 8: trained at its lower rate it overfits much sooner (docs/training.md). */
  double dropout_exposure;

  /* ---- ABI 1.5: optional; NULL (or absent) means trace reads src only. ---- */

  /* enable != 0: from the next call on, trace on this instance takes its input as src_index (see
   * charnn_trace_args) instead of src, as set_index_input does for forward and backward. The host
   * asks it of layer 0 for `charnn inspect` and `dump`: over a vocabulary of thousands, the dense
   * one-hot src is a (T*N, V) matrix of zeros whose product dominates the trace. enable == 0
   * switches back. */
  charnn_status (*set_trace_index_input)(charnn_cell* cell, int32_t enable);
} charnn_cell_api;

typedef const charnn_cell_api* (*charnn_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CHARNN_PLUGIN_H */
