# fedhpc_add_test(NAME <name> SOURCES <src...> [MPI_RANKS <n...>] [LABELS <l...>] [PLAIN_MAIN])
# Without MPI_RANKS the test runs once as a plain process (an MPI singleton).
# With MPI_RANKS it is registered once per rank count under mpirun and carries
# the label "mpi". PLAIN_MAIN links gtest's own main (no MPI_Init), for tests
# that launch mpirun themselves.
set(FEDHPC_MPIEXEC_FLAGS --oversubscribe --bind-to none CACHE STRING "extra mpirun flags for tests")
# PMIX_MCA_psec=native: with munge installed but not running (as the Slurm
# test leaves it), PMIx's munge security plugin retried its socket for ~2.3 s
# at every mpirun or singleton start (0.06 s with native); tests/slurm unsets it.
set(FEDHPC_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=1 OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
  PMIX_MCA_psec=native)

function(fedhpc_add_test)
  cmake_parse_arguments(T "PLAIN_MAIN" "NAME" "SOURCES;MPI_RANKS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  if(T_PLAIN_MAIN)
    target_link_libraries(${T_NAME} PRIVATE fedhpc::core GTest::gtest_main)
    target_include_directories(${T_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  else()
    target_link_libraries(${T_NAME} PRIVATE fedhpc::core fedhpc_test_main GTest::gtest)
  endif()
  target_link_libraries(${T_NAME} PRIVATE fedhpc_malloc)
  if(NOT T_MPI_RANKS)
    set(T_MPI_RANKS 1)
    set(serial TRUE)
  endif()
  foreach(n IN LISTS T_MPI_RANKS)
    if(serial)
      set(test_name ${T_NAME})
      set(labels ${T_LABELS})
    else()
      set(test_name ${T_NAME}_np${n})
      set(labels mpi ${T_LABELS})
    endif()
    if(serial)
      add_test(NAME ${test_name} COMMAND $<TARGET_FILE:${T_NAME}>
        WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    else()
      add_test(NAME ${test_name}
        COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${FEDHPC_MPIEXEC_FLAGS}
                $<TARGET_FILE:${T_NAME}>
        WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    endif()
    set_tests_properties(${test_name} PROPERTIES
      LABELS "${labels}" PROCESSORS ${n} ENVIRONMENT "${FEDHPC_TEST_ENV}"
      TIMEOUT 600)
  endforeach()
endfunction()
