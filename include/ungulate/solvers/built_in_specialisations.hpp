#pragma once
// The specialisations of solve and gradient that the ungulate library compiles once
// (explicit template instantiation, "ETI", as Kokkos Kernels does): every built-in cell, in
// float and double, on the default execution space, on one process and, where the library
// has MPI, under an MPI time decomposition.
//
// The solvers are large templates: without this the program, the C API and every test
// compiled all of them again (minutes per file).  With UNGULATE_HAVE_ETI (the library's
// CMake option UNGULATE_ENABLE_ETI, on by default, sets it for everything that links it)
// solve.hpp and gradient.hpp declare these specialisations extern, and calls with other
// cells or execution spaces are compiled where they are made, as before.
#include "ungulate/cells/gru.hpp"
#include "ungulate/cells/lorenz96.hpp"
#include "ungulate/cells/lstm.hpp"
#include "ungulate/dist/single_rank.hpp"
#ifdef UNGULATE_HAVE_MPI
#include "ungulate/dist/mpi_decomposition.hpp"
#endif

/// M(Cell, Decomposition) for each decomposition the library is built with.
#ifdef UNGULATE_HAVE_MPI
#define UNGULATE_FOR_EACH_DECOMPOSITION(M, Cell) \
  M(Cell, ::ungulate::dist::SingleRank) M(Cell, ::ungulate::dist::MpiTimeDecomposition)
#else
#define UNGULATE_FOR_EACH_DECOMPOSITION(M, Cell) M(Cell, ::ungulate::dist::SingleRank)
#endif

/// M(Cell, Decomposition) for every specialisation the library compiles.  The cells must
/// match the list in CMakeLists.txt (UNGULATE_ENABLE_ETI), which generates one file per
/// cell; a cell missing there fails to link.  (clang-format reflows this list differently on
/// each pass: kept one entry per line by hand.)
// clang-format off
#define UNGULATE_FOR_EACH_BUILT_IN_SPECIALISATION(M)                    \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::GRU<float>)      \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::GRU<double>)     \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::LSTM<float>)     \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::LSTM<double>)    \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::Lorenz96<float>) \
  UNGULATE_FOR_EACH_DECOMPOSITION(M, ::ungulate::cells::Lorenz96<double>)
// clang-format on
