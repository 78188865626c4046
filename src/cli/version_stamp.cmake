# Run at every build (cmake -P): writes OUTPUT from src/cli/version.cpp.in with the source
# tree's commit. configure_file rewrites OUTPUT only when its text changes, so a build on the
# same commit compiles nothing and a new commit compiles this one file.
# In: SOURCE_DIR, OUTPUT, VERSION, BUILD.
set(SYNCTOOL_VERSION "${VERSION}")
set(SYNCTOOL_BUILD "${BUILD}")
set(SYNCTOOL_COMMIT "unknown")
find_program(GIT_PROGRAM git)
if(GIT_PROGRAM)
  # Only the source tree's own repository: a tarball unpacked inside another checkout is not
  # that checkout's commit.
  execute_process(COMMAND "${GIT_PROGRAM}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE failed OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT failed)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
  endif()
  if(NOT failed AND top STREQUAL source)
    execute_process(COMMAND "${GIT_PROGRAM}" -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE commit RESULT_VARIABLE failed OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT failed AND commit)
      set(SYNCTOOL_COMMIT "${commit}")
      # Tracked files that differ from the commit (untracked ones are not part of the build).
      # (--no-optional-locks: never write the index, which a git command beside the build may hold.)
      execute_process(COMMAND "${GIT_PROGRAM}" --no-optional-locks -C "${SOURCE_DIR}" diff --quiet HEAD --
                      RESULT_VARIABLE dirty OUTPUT_QUIET ERROR_QUIET)
      if(dirty EQUAL 1)
        string(APPEND SYNCTOOL_COMMIT "-dirty")
      endif()
    endif()
  endif()
endif()
configure_file("${SOURCE_DIR}/src/cli/version.cpp.in" "${OUTPUT}" @ONLY)
