#pragma once
// What the file commands need to know about the MPI world, and a collective error check.
#include <mpi.h>

#include <exception>
#include <string>

#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/dist/single_rank.hpp"
#include "ungulate/io/h5file.hpp"

namespace ungulate::app {

struct World {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  World() {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
};

/// Runs `step` on every rank; if it throws on any rank, every rank throws io::Error with the
/// message of the lowest failing rank.  Keeps ranks from parting ways (and hanging in a
/// later collective) when, e.g., only one rank's slice of the inputs holds a NaN.
template <class Step>
void all_or_none(const World& world, Step&& step) {
  std::string message;
  int failed_rank = world.size;
  try {
    step();
  } catch (const std::exception& e) {
    message = e.what();
    failed_rank = world.rank;
  }
  int first = world.size;
  MPI_Allreduce(&failed_rank, &first, 1, MPI_INT, MPI_MIN, world.comm);
  if (first == world.size) return;
  int length = int(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, world.comm);
  message.resize(std::size_t(length));
  MPI_Bcast(message.data(), length, MPI_CHAR, first, world.comm);
  throw io::Error(message);
}

/// Calls body(Scalar{}, decomp, local_length) with the precision chosen (double or float) and
/// the decomposition of T steps over the world: dist::SingleRank on one rank (no MPI in the
/// solver's path), dist::MpiTimeDecomposition otherwise.  Returns what body returns.
template <class Body>
int with_precision_and_decomposition(const World& world, bool use_double, long long T,
                                     Body&& body) {
  const auto typed = [&](const auto& decomp, long long local) {
    return use_double ? body(double{}, decomp, local) : body(float{}, decomp, local);
  };
  if (world.size == 1) return typed(dist::SingleRank(), T);
  const dist::MpiTimeDecomposition decomp(world.comm, T);
  return typed(decomp, decomp.local_length());
}

}  // namespace ungulate::app
