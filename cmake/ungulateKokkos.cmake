# Normalise the Kokkos and Kokkos Kernels packages into two targets that work the
# same for every provider:
#   ungulate::kokkos         Kokkos core (+ containers)
#   ungulate::kokkoskernels  Kokkos Kernels (batched and BLAS headers/libraries)
#
# Providers:
#  * a standalone Kokkos >= 4 install (Kokkos::kokkos, Kokkos::kokkoskernels);
#  * Debian's Trilinos 13.2 packages (Kokkos 3.4.01), whose Kokkos::kokkos lists a
#    non-existent include directory and whose Kokkos Kernels target is called
#    trilinos_kokkoskernels.  There we build the targets from the package variables.
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

if(NOT TARGET ungulate::kokkoskernels)
  find_dependency(KokkosKernels)
  add_library(ungulate::kokkoskernels INTERFACE IMPORTED)
  if(TARGET Kokkos::kokkoskernels)
    set_target_properties(ungulate::kokkoskernels PROPERTIES
      INTERFACE_LINK_LIBRARIES Kokkos::kokkoskernels)
  else()
    set_target_properties(ungulate::kokkoskernels PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${KokkosKernels_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "${KokkosKernels_LIBRARIES};ungulate::kokkos")
  endif()
endif()
