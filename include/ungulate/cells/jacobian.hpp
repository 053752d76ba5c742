#pragma once
// How solvers obtain f and its Jacobian from a cell.
//
// The cell interface (see docs/cells.md):
//   using value_type = Scalar;
//   KOKKOS_FUNCTION int state_size() const;   int input_size() const;
//   template <class S> KOKKOS_FUNCTION void evaluate(const S* h, const Scalar* x, S* out) const;
// and optionally, for speed, analytic Jacobians:
//   KOKKOS_FUNCTION void evaluate_with_diagonal_jacobian(const Scalar* h, const Scalar* x,
//                                                        Scalar* out, Scalar* diag) const;
//   KOKKOS_FUNCTION void evaluate_with_jacobian(const Scalar* h, const Scalar* x,
//                                               Scalar* out, Scalar* jac) const;  // row-major
//   template <int N> KOKKOS_FUNCTION void evaluate_points_with_diagonal_jacobian(
//       const Scalar* const* h, const Scalar* const* x, Scalar* const* out,
//       Scalar* const* diag) const;   // N independent points at once (CPU throughput)
//   template <int N> KOKKOS_FUNCTION void evaluate_points(const Scalar* const* h,
//       const Scalar* const* x, Scalar* const* out) const;                  // likewise
// A cell without them is differentiated by forward-mode dual numbers (D evaluations of f
// per Jacobian), so a user cell only needs `evaluate` templated on its scalar type.
#include <type_traits>
#include <utility>

#include "ungulate/cells/dual.hpp"

namespace ungulate::cells {

namespace detail {
template <class Cell, class = void>
struct has_diagonal_jacobian : std::false_type {};
template <class Cell>
struct has_diagonal_jacobian<
    Cell,
    std::void_t<decltype(std::declval<const Cell&>().evaluate_with_diagonal_jacobian(
        std::declval<const typename Cell::value_type*>(),
        std::declval<const typename Cell::value_type*>(),
        std::declval<typename Cell::value_type*>(), std::declval<typename Cell::value_type*>()))>>
    : std::true_type {};
template <class Cell, class = void>
struct has_evaluate_points : std::false_type {};
template <class Cell>
struct has_evaluate_points<
    Cell, std::void_t<decltype(std::declval<const Cell&>().template evaluate_points<2>(
              std::declval<const typename Cell::value_type* const*>(),
              std::declval<const typename Cell::value_type* const*>(),
              std::declval<typename Cell::value_type* const*>()))>> : std::true_type {};
template <class Cell, class = void>
struct has_points_diagonal_jacobian : std::false_type {};
template <class Cell>
struct has_points_diagonal_jacobian<
    Cell, std::void_t<decltype(std::declval<const Cell&>()
                                   .template evaluate_points_with_diagonal_jacobian<2>(
                                       std::declval<const typename Cell::value_type* const*>(),
                                       std::declval<const typename Cell::value_type* const*>(),
                                       std::declval<typename Cell::value_type* const*>(),
                                       std::declval<typename Cell::value_type* const*>()))>>
    : std::true_type {};
template <class Cell, class = void>
struct has_dense_jacobian : std::false_type {};
template <class Cell>
struct has_dense_jacobian<
    Cell,
    std::void_t<decltype(std::declval<const Cell&>().evaluate_with_jacobian(
        std::declval<const typename Cell::value_type*>(),
        std::declval<const typename Cell::value_type*>(),
        std::declval<typename Cell::value_type*>(), std::declval<typename Cell::value_type*>()))>>
    : std::true_type {};
}  // namespace detail

/// Jacobians of any cell by forward-mode dual numbers.  Scratch: 4 D scalars.
template <class Cell>
struct DualJacobian {
  using Scalar = typename Cell::value_type;
  using D1 = Dual<Scalar>;

  static int scratch_size(const Cell& cell) { return 4 * cell.state_size(); }

  KOKKOS_INLINE_FUNCTION static void diagonal(const Cell& cell, const Scalar* h, const Scalar* x,
                                              Scalar* out, Scalar* diag, Scalar* scratch) {
    sweep(cell, h, x, out, scratch, [&](int j, const D1* f) { diag[j] = f[j].d; });
  }

  KOKKOS_INLINE_FUNCTION static void dense(const Cell& cell, const Scalar* h, const Scalar* x,
                                           Scalar* out, Scalar* jac, Scalar* scratch) {
    const int D = cell.state_size();
    sweep(cell, h, x, out, scratch, [&](int j, const D1* f) {
      for (int i = 0; i < D; ++i) jac[i * D + j] = f[i].d;
    });
  }

 private:
  // One evaluation per seed direction e_j; `column(j, f)` reads column j of the Jacobian.
  template <class Column>
  KOKKOS_INLINE_FUNCTION static void sweep(const Cell& cell, const Scalar* h, const Scalar* x,
                                           Scalar* out, Scalar* scratch, Column&& column) {
    const int D = cell.state_size();
    D1* hd = reinterpret_cast<D1*>(scratch);
    D1* fd = hd + D;
    for (int i = 0; i < D; ++i) hd[i] = D1(h[i], Scalar(0));
    for (int j = 0; j < D; ++j) {
      hd[j].d = Scalar(1);
      cell.evaluate(hd, x, fd);
      hd[j].d = Scalar(0);
      column(j, fd);
    }
    for (int i = 0; i < D; ++i) out[i] = fd[i].v;
    if (D == 0) cell.evaluate(h, x, out);
  }
};

/// out[p] = f(h[p], x[p]) at N independent points: the cell's evaluate_points where it has
/// it, one point after another otherwise.
template <int N, class Cell>
KOKKOS_INLINE_FUNCTION void evaluate_points(const Cell& cell,
                                            const typename Cell::value_type* const* h,
                                            const typename Cell::value_type* const* x,
                                            typename Cell::value_type* const* out) {
  if constexpr (N > 1 && detail::has_evaluate_points<Cell>::value)
    cell.template evaluate_points<N>(h, x, out);
  else
    for (int p = 0; p < N; ++p) cell.evaluate(h[p], x[p], out[p]);
}

/// Uses a cell's analytic Jacobians where it has them, dual numbers otherwise.
template <class Cell>
struct CellJacobian {
  using Scalar = typename Cell::value_type;

  static int scratch_size(const Cell& cell) {
    if constexpr (detail::has_diagonal_jacobian<Cell>::value &&
                  detail::has_dense_jacobian<Cell>::value)
      return 0;
    else
      return DualJacobian<Cell>::scratch_size(cell);
  }

  KOKKOS_INLINE_FUNCTION static void diagonal(const Cell& cell, const Scalar* h, const Scalar* x,
                                              Scalar* out, Scalar* diag, Scalar* scratch) {
    if constexpr (detail::has_diagonal_jacobian<Cell>::value)
      cell.evaluate_with_diagonal_jacobian(h, x, out, diag);
    else
      DualJacobian<Cell>::diagonal(cell, h, x, out, diag, scratch);
  }

  /// diagonal() at N independent points (h[p], x[p]); scratch[p] as for diagonal().
  template <int N>
  KOKKOS_INLINE_FUNCTION static void diagonal_points(const Cell& cell, const Scalar* const* h,
                                                     const Scalar* const* x, Scalar* const* out,
                                                     Scalar* const* diag, Scalar* const* scratch) {
    if constexpr (detail::has_points_diagonal_jacobian<Cell>::value)
      cell.template evaluate_points_with_diagonal_jacobian<N>(h, x, out, diag);
    else
      for (int p = 0; p < N; ++p) diagonal(cell, h[p], x[p], out[p], diag[p], scratch[p]);
  }

  KOKKOS_INLINE_FUNCTION static void dense(const Cell& cell, const Scalar* h, const Scalar* x,
                                           Scalar* out, Scalar* jac, Scalar* scratch) {
    if constexpr (detail::has_dense_jacobian<Cell>::value)
      cell.evaluate_with_jacobian(h, x, out, jac);
    else
      DualJacobian<Cell>::dense(cell, h, x, out, jac, scratch);
  }
};

}  // namespace ungulate::cells
