# Run at every build (cmake -P): writes OUT, a header defining CHARNN_COMMIT as the source tree's
# git commit (with -dirty for uncommitted changes, "unknown" outside a git checkout). OUT is
# rewritten only when that changed, so a new commit recompiles the one file that includes it.
# A configure-time value would go stale: configure does not run again at each commit. --exclude *
# keeps tags out, so that it is always the hash.
execute_process(
  COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12 --exclude *
  OUTPUT_VARIABLE commit
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE result
  ERROR_QUIET)
if(NOT result EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#define CHARNN_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
