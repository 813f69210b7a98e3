# The allocator of shoal's own executables (daemons, CLI, benchmarks, examples).
#
# Every task allocates a coroutine frame; a burst of 200,000 tasks sends glibc's malloc
# into its consolidation slow paths (30% of B1's time, measured with perf). mimalloc, a
# well-kept allocator packaged by Debian (libmimalloc-dev), halves B1's time per task and
# removes its round-to-round swings. The library itself (shoal::runtime) does not impose
# it: a user program opts in by linking mimalloc too (see README).
#
# Sanitizer builds keep the system allocator: ASan and TSan replace malloc themselves.
set(SHOAL_MALLOC "mimalloc" CACHE STRING "Allocator linked into shoal's executables: mimalloc or system")
add_library(shoal_malloc INTERFACE)
if(SHOAL_MALLOC STREQUAL "mimalloc" AND NOT SHOAL_SANITIZE)
  find_package(mimalloc CONFIG)
  if(mimalloc_FOUND)
    # --no-as-needed: nothing calls mimalloc by name; it replaces malloc by being loaded
    # before libc.
    target_link_libraries(shoal_malloc INTERFACE -Wl,--push-state,--no-as-needed mimalloc -Wl,--pop-state)
    message(STATUS "shoal: executables use mimalloc")
  else()
    message(WARNING "shoal: mimalloc not found (apt-get install libmimalloc-dev): executables use the system allocator")
  endif()
endif()
