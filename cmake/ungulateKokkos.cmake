# Normalise the Kokkos package into one target that works the same for every provider:
#   ungulate::kokkos  Kokkos core (+ containers)
#
# Providers:
#  * a standalone Kokkos install (Kokkos::kokkos);
#  * Debian's Trilinos 13.2 packages (Kokkos 3.4.01), whose Kokkos::kokkos lists a
#    non-existent include directory.  There we build the target from the package variables.
#
# The exported ungulateConfig.cmake includes this file again, so consumers get the
# same targets (an exported target cannot link a plain local target).
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

if(NOT TARGET ungulate::kokkos)
  find_dependency(Kokkos)
  add_library(ungulate::kokkos INTERFACE IMPORTED)
  if(TARGET trilinos_kokkoscore)
    # Trilinos-provided Kokkos: use the package variables, not Kokkos::kokkos.
    set_target_properties(ungulate::kokkos PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "${Kokkos_LIBRARIES}")
  else()
    set_target_properties(ungulate::kokkos PROPERTIES INTERFACE_LINK_LIBRARIES Kokkos::kokkos)
  endif()
endif()
