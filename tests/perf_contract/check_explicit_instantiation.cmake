# Fails when an object that calls solve and gradient for a built-in cell compiles them itself
# instead of using the library's explicit instantiations (solvers/built_in_specialisations.hpp):
# a call whose types drift from the extern declarations silently costs every program and
# test minutes of compile time again.
#   cmake -D NM=... -D OBJECT=... -P check_explicit_instantiation.cmake
foreach(kind defined undefined)
  execute_process(COMMAND ${NM} -C --${kind}-only ${OBJECT}
                  OUTPUT_VARIABLE ${kind} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${OBJECT}: ${err}")
  endif()
endforeach()
foreach(entry solve gradient)
  string(REGEX MATCH "[^\n]*ungulate::${entry}<[^\n]*" own "${defined}")
  if(own)
    message(FATAL_ERROR "${OBJECT} compiles ungulate::${entry} itself:\n  ${own}")
  endif()
  if(NOT undefined MATCHES "ungulate::${entry}<")
    message(FATAL_ERROR "${OBJECT} does not reference ungulate::${entry}: the probe is wrong")
  endif()
endforeach()
message(STATUS "${OBJECT}: solve and gradient come from the library")
