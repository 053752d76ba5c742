# Installs the build tree into a scratch prefix, builds examples/ against it with only
# find_package(ungulate), and runs each example alone and on 2 MPI ranks.  Invoked by CTest
# with -D BUILD_DIR, SOURCE_DIR, WORK_DIR, CXX_COMPILER, C_COMPILER, MPIEXEC,
# MPIEXEC_NUMPROC_FLAG and, when there is one, Fortran_COMPILER (then the Fortran example
# must build and run too).
file(REMOVE_RECURSE "${WORK_DIR}")
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}")
  endif()
endfunction()
set(fortran_args "")
set(examples gru_c)
if(Fortran_COMPILER)
  set(fortran_args -DCMAKE_Fortran_COMPILER=${Fortran_COMPILER}
                   -DUNGULATE_EXAMPLES_REQUIRE_FORTRAN=ON)
  list(APPEND examples gru_fortran)
endif()
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_C_COMPILER=${C_COMPILER} ${fortran_args})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
foreach(example IN LISTS examples)
  run("${WORK_DIR}/build/${example}")
  run(${MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe --allow-run-as-root
      "${WORK_DIR}/build/${example}")
endforeach()
