#pragma once
// A cell may offer `Cell prepared() const`: a copy arranged for fast evaluation (e.g. the
// GRU's transposed, padded kernels).  Solvers call cells::prepare once per solve; a cell
// without it is used as it is.
#include <type_traits>
#include <utility>

namespace ungulate::cells {

namespace detail {
template <class Cell, class = void>
struct has_prepared : std::false_type {};
template <class Cell>
struct has_prepared<Cell, std::void_t<decltype(std::declval<const Cell&>().prepared())>>
    : std::is_same<decltype(std::declval<const Cell&>().prepared()), Cell> {};
}  // namespace detail

template <class Cell>
Cell prepare(const Cell& cell) {
  if constexpr (detail::has_prepared<Cell>::value)
    return cell.prepared();
  else
    return cell;
}

}  // namespace ungulate::cells
