#pragma once
// What gradients with respect to a cell's weights look like (see solvers/gradient.hpp).
//
// A cell that supports gradients (cells::has_vjp) provides, besides its evaluation:
//   int parameter_count() const;                          // host or device
//   std::vector<cells::ParameterBlock> parameter_blocks() const;   // host
//   KOKKOS_FUNCTION void vjp(const Scalar* h, const Scalar* x, const Scalar* v,
//                            Scalar* grad_h, Scalar* grad_x, double* grad_weights) const;
// vjp evaluates the vector-Jacobian products of f at (h, x) with a cotangent v of f's output:
//   grad_h = (df/dh)^T v          (overwritten; skipped when nullptr)
//   grad_x = (df/dx)^T v          (overwritten; skipped when nullptr)
//   grad_weights += (df/dtheta)^T v   (accumulated, in double; skipped when nullptr)
// grad_weights holds parameter_count() values: the blocks of parameter_blocks() one after the
// other, each row-major in the shape and under the name the cell's weights have.
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ungulate::cells {

/// One named weight array of a cell (e.g. the GRU's "recurrent_kernel", shape (3, H, H)).
struct ParameterBlock {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t size() const {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
};

namespace detail {
template <class Cell, class = void>
struct has_vjp : std::false_type {};
template <class Cell>
struct has_vjp<
    Cell, std::void_t<decltype(std::declval<const Cell&>().vjp(
                          std::declval<const typename Cell::value_type*>(),
                          std::declval<const typename Cell::value_type*>(),
                          std::declval<const typename Cell::value_type*>(),
                          std::declval<typename Cell::value_type*>(),
                          std::declval<typename Cell::value_type*>(), std::declval<double*>())),
                      decltype(std::declval<const Cell&>().parameter_count()),
                      decltype(std::declval<const Cell&>().parameter_blocks())>> : std::true_type {
};
}  // namespace detail

/// True for cells that provide vjp, parameter_count and parameter_blocks.
template <class Cell>
constexpr bool has_vjp = detail::has_vjp<Cell>::value;

}  // namespace ungulate::cells
