#pragma once
// How a sequence of T steps is cut into C contiguous chunks, all of
// length ceil(T / C), trailing chunks possibly short or empty).
#include <Kokkos_Core.hpp>

namespace ungulate::scan {

struct ChunkLayout {
  int length = 0;        ///< T
  int chunks = 1;        ///< C, in [1, max(T, 1)]
  int chunk_length = 0;  ///< ceil(T / C)

  ChunkLayout() = default;
  ChunkLayout(int T, int requested) : length(T) {
    chunks = requested < 1 ? 1 : requested;
    if (chunks > T) chunks = T > 0 ? T : 1;  // an empty sequence still has one (empty) chunk
    chunk_length = T == 0 ? 0 : (T + chunks - 1) / chunks;
  }
  KOKKOS_INLINE_FUNCTION int begin(int c) const {
    const int k = c * chunk_length;
    return k < length ? k : length;
  }
  KOKKOS_INLINE_FUNCTION int end(int c) const { return begin(c + 1); }
};

/// Default chunk count: enough work items to occupy the backend (a few per thread), but
/// chunks long enough that the aggregate scan stays cheap.
template <class ExecSpace>
int default_chunks(int batch, int length) {
  const int concurrency = ExecSpace().concurrency();
  const int want_items = 8 * concurrency;
  int per_sequence = (want_items + batch - 1) / (batch > 0 ? batch : 1);
  if (per_sequence < 4) per_sequence = 4;
  const int min_chunk_length = 32;
  const int cap = length / min_chunk_length;
  if (per_sequence > cap) per_sequence = cap;
  return per_sequence < 1 ? 1 : per_sequence;
}

}  // namespace ungulate::scan
