// Compiled, never run: calls solve and gradient for a built-in cell, as an embedding code
// would.  check_explicit_instantiation.cmake reads this object's symbols: with the library's
// explicit instantiations (UNGULATE_HAVE_ETI) it must reference them, not compile its own.
#include "ungulate/cells/gru.hpp"
#include "ungulate/solvers/gradient.hpp"
#include "ungulate/solvers/solve.hpp"

ungulate::SolveResult eti_probe_solve(
    const ungulate::cells::GRU<float>& cell,
    const ungulate::InputsView<ungulate::cells::GRU<float>>& x,
    const ungulate::InitialStateView<ungulate::cells::GRU<float>>& s0,
    const ungulate::StatesView<ungulate::cells::GRU<float>>& s) {
  (void)ungulate::gradient(cell, x, s0, s, s);
  return ungulate::solve(cell, x, s0, s, ungulate::SolverOptions());
}
