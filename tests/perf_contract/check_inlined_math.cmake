# Fails when a binary calls ungulate's float exp/sigmoid/tanh out of line.  Those are written
# to vectorise inside the cells' loops over a block of rows; a call per element makes a GRU
# step several times slower (GCC left 17 such calls in the program before they were forced
# inline, and a driver compiled on its own ran B = 1 sequential evaluation 5x slower).
#   cmake -D OBJDUMP=... -D BINARY=... -P check_inlined_math.cmake
execute_process(COMMAND ${OBJDUMP} -d -C --no-show-raw-insn ${BINARY}
                OUTPUT_VARIABLE listing RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} failed on ${BINARY}: ${err}")
endif()
string(REGEX MATCHALL "call[^\n]*ungulate::math::detail::[a-z_]*_float[^\n]*" calls "${listing}")
list(LENGTH calls n)
if(n GREATER 0)
  list(GET calls 0 first)
  message(FATAL_ERROR "${BINARY}: ${n} out-of-line calls to ungulate's float elementary "
                      "functions, e.g.\n  ${first}")
endif()
message(STATUS "${BINARY}: the float elementary functions are inlined everywhere")
