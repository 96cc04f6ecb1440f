/* Deliberately broken cell plugins, one failure mode per build (tests/plugins/CMakeLists.txt
 * compiles this file once per BROKEN_* define). Written in plain C on purpose: a plugin needs
 * nothing but plugin.h. None of the functions is ever called: the loader must reject each library
 * before creating a cell, so they only need to exist and be distinct from NULL. Some modes crash
 * (as they load, in the entry point, as they unload, or by handing out a wild pointer), which the
 * host must survive. */
#include <charnn/plugin.h>

#include <string.h>

static charnn_status never_create(int64_t i, int64_t h, charnn_cell** out, char* err, size_t n) {
  (void)i, (void)h, (void)err, (void)n;
  *out = NULL;
  return CHARNN_ERR_UNSUPPORTED;
}
static void never_destroy(charnn_cell* c) {
  (void)c;
}
static int32_t never_count(const charnn_cell* c) {
  (void)c;
  return 0;
}
static charnn_status never_info(const charnn_cell* c, int32_t k, charnn_tensor_info* out) {
  (void)c, (void)k, (void)out;
  return CHARNN_ERR_UNSUPPORTED;
}
static const char* never_name(const charnn_cell* c, int32_t k) {
  (void)c, (void)k;
  return "";
}
static charnn_status never_init(const charnn_cell* c, float* p, uint64_t s) {
  (void)c, (void)p, (void)s;
  return CHARNN_ERR_UNSUPPORTED;
}
static charnn_status never_forward(charnn_cell* c, const charnn_forward_args* a) {
  (void)c, (void)a;
  return CHARNN_ERR_UNSUPPORTED;
}
static charnn_status never_backward(charnn_cell* c, const charnn_backward_args* a) {
  (void)c, (void)a;
  return CHARNN_ERR_UNSUPPORTED;
}
static charnn_status never_step(charnn_cell* c, const charnn_step_args* a) {
  (void)c, (void)a;
  return CHARNN_ERR_UNSUPPORTED;
}
static charnn_status never_trace(charnn_cell* c, const charnn_trace_args* a) {
  (void)c, (void)a;
  return CHARNN_ERR_UNSUPPORTED;
}
static const char* never_error(const charnn_cell* c) {
  (void)c;
  return "";
}

/* A complete, well-formed table; each mode below spoils one thing. The struct is followed by
 * extra bytes so that a table claiming to be larger than the host's is still backed by memory
 * (the host must reject it without reading past its own sizeof anyway). */
static struct {
  charnn_cell_api api;
  void* extra[4];
} table = {{sizeof(charnn_cell_api),
            CHARNN_PLUGIN_ABI_MAJOR,
            CHARNN_PLUGIN_ABI_MINOR,
            "broken",
            "0.0.0",
            "a deliberately broken test plugin",
            never_create,
            never_destroy,
            never_count,
            never_info,
            never_count,
            never_name,
            never_init,
            never_forward,
            never_backward,
            never_step,
            never_count,
            never_name,
            never_trace,
            never_error,
            NULL /* prepare_step: optional (ABI 1.1) */,
            NULL /* set_train_precision: optional (ABI 1.1) */,
            NULL /* set_index_input: optional (ABI 1.2) */,
            0.0 /* max_learning_rate: no limit (ABI 1.3) */,
            0.0 /* dropout_exposure: the host's default (ABI 1.4) */,
            NULL /* set_trace_index_input: optional (ABI 1.5) */},
           {0, 0, 0, 0}};

#if defined(BROKEN_CRASH_ON_LOAD)
#include <signal.h>
/* Damaged code that runs as the library loads (a constructor): the host must survive it. */
__attribute__((constructor)) static void crash_on_load(void) {
  raise(SIGSEGV);
}
#endif

#if defined(BROKEN_CRASH_ON_UNLOAD)
#include <signal.h>
/* Damaged code that runs only when the host is done (a destructor, run at exit for a library
 * dlclose keeps): the host must not find out then. */
__attribute__((destructor)) static void crash_on_unload(void) {
  raise(SIGSEGV);
}
#endif

#if defined(BROKEN_WILD_NAME)
/* A cell that creates fine but names its state with a wild pointer, as damaged code did: the
 * host reads names with strlen. */
static int wild_cell;
static charnn_status wild_create(int64_t i, int64_t h, charnn_cell** out, char* err, size_t n) {
  (void)i, (void)h, (void)err, (void)n;
  *out = (charnn_cell*)&wild_cell;
  return CHARNN_OK;
}
static int32_t one(const charnn_cell* c) {
  (void)c;
  return 1;
}
static const char* wild_name(const charnn_cell* c, int32_t k) {
  (void)c, (void)k;
  return (const char*)16;
}
#endif

#if defined(BROKEN_NO_ENTRY)
/* Exports a function, just not the entry point. */
CHARNN_PLUGIN_EXPORT const charnn_cell_api* charnn_plugin_entry_misspelt(void) {
  return &table.api;
}
#elif defined(BROKEN_UNRESOLVED)
/* Links against a symbol nobody defines: dlopen(RTLD_NOW) must fail and say which. */
extern const charnn_cell_api* charnn_test_symbol_nobody_defines(void);
CHARNN_PLUGIN_EXPORT const charnn_cell_api* charnn_plugin_entry(void) {
  (void)table;
  return charnn_test_symbol_nobody_defines();
}
#else
CHARNN_PLUGIN_EXPORT const charnn_cell_api* charnn_plugin_entry(void) {
#if defined(BROKEN_NULL_ENTRY)
  (void)table;
  return NULL;
#else
#if defined(BROKEN_ABI_MAJOR)
  table.api.abi_major = CHARNN_PLUGIN_ABI_MAJOR + 1;
#elif defined(BROKEN_STRUCT_TOO_LARGE)
  /* A plugin from a future minor version with one more function than this host knows. */
  table.api.abi_minor = CHARNN_PLUGIN_ABI_MINOR + 1;
  table.api.struct_size = sizeof(charnn_cell_api) + sizeof(void*);
  table.extra[0] = (void*)&table;
#elif defined(BROKEN_STRUCT_TOO_SMALL)
  /* An "older" table that stops before the last required function (which is left non-NULL in
   * memory to prove the host honours struct_size rather than reading what happens to be there). */
  table.api.struct_size = offsetof(charnn_cell_api, last_error);
#elif defined(BROKEN_MISSING_FUNCTION)
  table.api.backward = NULL;
#elif defined(BROKEN_BAD_NAME)
  table.api.name = "Broken Cell!";
#elif defined(BROKEN_CRASH_ON_LOAD)
  /* never reached */
#elif defined(BROKEN_CRASH_IN_ENTRY)
  __builtin_trap(); /* damaged code in the entry point itself */
#elif defined(BROKEN_CRASH_ON_UNLOAD)
  /* the table is fine */
#elif defined(BROKEN_WILD_NAME)
  table.api.create = wild_create;
  table.api.num_states = one;
  table.api.state_name = wild_name;
#else
#error "define one BROKEN_* mode"
#endif
  return &table.api;
#endif
}
#endif
