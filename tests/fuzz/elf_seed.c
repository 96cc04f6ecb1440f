/* The seed of the ELF fuzz target: a tiny shared library with what a real plugin's dynamic section
 * holds (versioned imports, RELATIVE, GLOB_DAT and JUMP_SLOT relocations, an initialiser and an
 * exported entry point) in 6 kB. scripts/fuzz.sh builds it three ways (GNU hash, SysV hash, RELR).
 * The built plugins would do as seeds too, but at 3 MB under ASan they slowed the target 10x. */
#include <stdlib.h>
#include <string.h>

struct table {
  const char* name;
  size_t (*len)(const char*);
  void* (*alloc)(size_t);
};
static const struct table table = {"seed", strlen, malloc};
static int ready;

__attribute__((constructor)) static void start(void) { ready = 1; }

const struct table* charnn_plugin_entry(void) { return ready ? &table : 0; }

void* seed_zeroed(size_t n) { return calloc(n, 1); }
