# fedhpc_malloc: an interface target that puts tcmalloc (gperftools' minimal
# build) in front of glibc malloc in the executables that link it.
# Why: glibc returns LibTorch's large tensor buffers to the kernel (munmap)
# and faults them back in on the next minibatch; a 10-client seed-cnn run
# spent a third of its time in the kernel that way (benchmarks/RESULTS.md).
# It is linked into executables only, never into fedhpc::core, so programs
# built against the installed package choose their own allocator.
add_library(fedhpc_malloc INTERFACE)
if(NOT FEDHPC_TCMALLOC)
  message(STATUS "fedhpc: tcmalloc off (FEDHPC_TCMALLOC=OFF): glibc malloc")
  return()
endif()
# The development symlink (libgoogle-perftools-dev) or the runtime library
# itself (libtcmalloc-minimal4).
find_library(FEDHPC_TCMALLOC_LIBRARY NAMES tcmalloc_minimal libtcmalloc_minimal.so.4)
if(NOT FEDHPC_TCMALLOC_LIBRARY)
  message(FATAL_ERROR "fedhpc: tcmalloc not found (Debian: apt-get install libtcmalloc-minimal4 "
                      "libgoogle-perftools-dev, or run cmake/setup-debian.sh); configure with "
                      "-DFEDHPC_TCMALLOC=OFF to build with glibc malloc (runs about 1.5x slower)")
endif()
message(STATUS "fedhpc: tcmalloc: ${FEDHPC_TCMALLOC_LIBRARY}")
# No symbol of it is referenced, so keep the linker from dropping it where
# --as-needed is the default.
target_link_libraries(fedhpc_malloc INTERFACE
  "-Wl,--push-state,--no-as-needed" "${FEDHPC_TCMALLOC_LIBRARY}" "-Wl,--pop-state")
