#pragma once
// Generators and sinks that turn a cell and the current iterate into scan elements: the
// Newton linearisation (DEER), its Kalman form (ELK) and the RTS smoother's reverse pass.
#include "ungulate/core/math.hpp"
#include "ungulate/core/prefetch.hpp"
#include "ungulate/core/types.hpp"

namespace ungulate::solvers {

/// Where the recurrence enters a slice of the sequence: the state before the slice's first
/// step (s_0, or the left neighbour's last state), and whether that state is the fixed
/// initial condition (then step 0 is exact: A = 0, b = f(s_0)).
template <class Scalar, class MemorySpace>
struct SliceBoundary {
  Kokkos::View<const Scalar**, Kokkos::LayoutRight, MemorySpace> previous;  // (B, D)
  bool starts_sequence = true;
  /// Input of the step after the slice (B, I), used by the smoother when !ends_sequence.
  Kokkos::View<const Scalar**, Kokkos::LayoutRight, MemorySpace> next_input;
  bool ends_sequence = true;
};

/// A store of every step's linearisation (F_t, u_t), (B, T, size(D) + D): pass 1 of an
/// iteration writes it, later passes read it instead of evaluating the cell again.  Empty
/// means "recompute" (the fused path: nothing of size T beyond the iterates in memory).
template <class Scalar, class MemorySpace>
struct StoredLinearisation {
  enum Mode { Off, Store, Load };
  Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace> data;
  Mode mode = Off;
  StoredLinearisation with(Mode m) const { return {data, data.extent(0) > 0 ? m : Off}; }
};

/// u = f - F h, the offset of the linearisation s_t ~ F s_{t-1} + u at h (u = f where h is
/// null: the exact first step, F = 0).
template <class Structure, class S>
KOKKOS_INLINE_FUNCTION void linearisation_offset(int D, const S* F, const S* h, const S* f, S* u) {
  if (h != nullptr) {
    Structure::apply(D, F, h, u);
    for (int i = 0; i < D; ++i) u[i] = f[i] - u[i];
  } else {
    for (int i = 0; i < D; ++i) u[i] = f[i];
  }
}

/// Lowers *first_inexact (when given) to t where step t's residual exceeds the tolerance:
/// the end of the exact prefix.  Tested before the atomic: a chunk runs forward, so after its
/// first inexact step the read fails and the shared minimum is touched once per chunk, not
/// once per step.
template <class S>
KOKKOS_INLINE_FUNCTION void note_inexact_step(int* first_inexact, int t, S step_residual,
                                              S tolerance) {
  if (first_inexact != nullptr && step_residual > tolerance &&
      t < *static_cast<volatile int*>(first_inexact))
    Kokkos::atomic_fetch_min(first_inexact, t);
}

/// Element builders: from a linearisation (F, u) with s_t ~ F s_{t-1} + u and the current
/// iterate y = s^(i)_t, write a scan element.
template <class Structure>
struct AffineBuilder {
  template <class S>
  using Element = typename Structure::template Affine<S>;
  /// The element is the linearisation [F, u] itself: a stored one is read where it lies.
  static constexpr bool element_is_linearisation = true;
  KOKKOS_INLINE_FUNCTION static int scratch_size(int) { return 0; }
  template <class S>
  KOKKOS_INLINE_FUNCTION void build(int /*b*/, int D, const S* F, const S* u, const S* /*y*/, S* e,
                                    S* /*scratch*/) const {
    const int n = Structure::size(D);
    if (F == e && u == e + n) return;  // linearised into the element itself
    for (int i = 0; i < n; ++i) e[i] = F[i];
    for (int i = 0; i < D; ++i) e[n + i] = u[i];
  }
};

/// Kalman filter element of the trust-region problem
///   min sum_t |s_t - F_t s_{t-1} - u_t|^2 / 2 + lambda |s_t - y_t|^2 / 2,
/// i.e. dynamics noise I and observations y_t with noise I / lambda.  With
/// kappa = 1 / (1 + lambda) and omega = lambda / (1 + lambda):
///   A = kappa F, b = kappa u + omega y, C = kappa I, J = omega F^T F, eta = omega F^T (y - u).
/// (Step 0 comes with F = 0, u = f(s_0), which makes it the exact first filter element.)
template <class Structure>
struct KalmanBuilder {
  template <class S>
  using Element = typename Structure::template Kalman<S>;
  static constexpr bool element_is_linearisation = false;
  double lambda;
  /// When set: lambda per sequence b (B entries in the execution space's memory; the
  /// adaptive trust region), overriding `lambda`.
  const double* lambda_by_sequence = nullptr;
  KOKKOS_INLINE_FUNCTION static int scratch_size(int D) { return D; }
  template <class S>
  KOKKOS_INLINE_FUNCTION void build(int sequence, int D, const S* F, const S* u, const S* y, S* e,
                                    S* scratch) const {
    const double l = lambda_by_sequence != nullptr ? lambda_by_sequence[sequence] : lambda;
    const S kappa = S(1.0 / (1.0 + l)), omega = S(l / (1.0 + l));
    const int n = Structure::size(D);
    S *A = e, *b = A + n, *C = b + D, *J = C + n, *eta = J + n;
    for (int i = 0; i < n; ++i) A[i] = kappa * F[i];
    for (int i = 0; i < D; ++i) b[i] = kappa * u[i] + omega * y[i];
    Structure::set_scaled_identity(D, kappa, C);
    Structure::gram(D, omega, F, J);
    for (int i = 0; i < D; ++i) scratch[i] = y[i] - u[i];
    Structure::apply_transpose(D, omega, F, scratch, eta);
  }
};

/// Generator: linearises the cell at the current iterate and builds element t.  Reports the
/// residual max |s^(i)_t - f(s^(i)_{t-1})| of the iterate through the reduction.
template <class Cell, class Structure, class Builder, class MemorySpace>
struct LinearisedElements {
  using Scalar = typename Cell::value_type;
  using States = Kokkos::View<const Scalar***, Kokkos::LayoutRight, MemorySpace>;
  /// Steps linearised together on CPUs (scan engine groups): their independent instruction
  /// streams interleave.  GPUs parallelise over work items instead.
  static constexpr int group_size = Structure::groups_points ? steps_per_group<MemorySpace> : 1;
  Cell cell;
  Builder builder;
  States inputs;   // (B, T, I)
  States iterate;  // (B, T, D)
  SliceBoundary<Scalar, MemorySpace> boundary;
  int dim;
  StoredLinearisation<Scalar, MemorySpace> cache = {};
  /// When set: min-reduced to the first local step whose residual exceeds prefix_tolerance
  /// (the end of the exact prefix); left alone where every step is within it.
  Kokkos::View<int, MemorySpace> first_inexact = {};
  Scalar prefix_tolerance = 0;
  static constexpr int kPrefetchSteps = 16;  // measured: 16 beat 32 and none

  int scratch_size() const {
    return 2 * dim + Structure::size(dim) + cells::CellJacobian<Cell>::scratch_size(cell) +
           Builder::scratch_size(dim);
  }

  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, Scalar* element, Scalar* scratch,
                                         Scalar& max_residual) const {
    const int D = dim, n = Structure::size(D);
    Scalar *f = scratch, *F = f + D, *rest = F + n + D;  // u = F + n (see build_step)
    if (cache.mode == cache.Load) {  // pass 3: the residual was reported in pass 1
      const Scalar* stored = loaded(b, t);
      builder.build(b, D, stored, stored + n, &iterate(b, t, 0), element, rest);
      return;
    }
    const Scalar* h = input_state(b, t);
    const Scalar* x = &inputs(b, t, 0);
    if (t == 0 && boundary.starts_sequence) {  // exact: A = 0, b = f(s_0)
      cell.evaluate(h, x, f);
      for (int i = 0; i < n; ++i) F[i] = Scalar(0);
      complete(b, t, nullptr, f, F, element, rest, max_residual);
    } else {
      Structure::linearise(cell, h, x, f, F, rest);
      complete(b, t, h, f, F, element, rest, max_residual);
    }
  }

  /// Element t where it lies in the store (pass 3 of affine steps), else null.
  KOKKOS_INLINE_FUNCTION const Scalar* element_in_place(int b, int t) const {
    if constexpr (Builder::element_is_linearisation)
      if (cache.mode == cache.Load) return loaded(b, t);
    (void)b;
    (void)t;
    return nullptr;
  }

  /// Elements t .. t + group_size - 1, their cell linearisations computed together.
  KOKKOS_INLINE_FUNCTION void group(int b, int t, Scalar* elements, Scalar* scratch,
                                    Scalar& max_residual) const {
    constexpr int G = group_size;
    const int D = dim, n = Structure::size(D);
    const int es = typename Builder::template Element<Scalar>{D}.element_size();
    const int per_step =
        2 * D + n + cells::CellJacobian<Cell>::scratch_size(cell) + Builder::scratch_size(D);
    if (cache.mode == cache.Load || (t == 0 && boundary.starts_sequence)) {
      for (int p = 0; p < G; ++p) (*this)(b, t + p, elements + p * es, scratch, max_residual);
      return;
    }
    // The f's one after another, then per step [F | u | rest]: the group's f rows and its
    // iterate rows are both contiguous, and the residual is one reduction a group.  Where
    // the element is the linearisation, F and u are computed in the element itself.
    Scalar* fs = scratch;
    const Scalar *h[G], *x[G];
    Scalar *f[G], *F[G], *rest[G];
    for (int p = 0; p < G; ++p) {
      h[p] = input_state(b, t + p);
      x[p] = &inputs(b, t + p, 0);
      f[p] = fs + p * D;
      Scalar* own = fs + G * D + p * (per_step - D);
      F[p] = Builder::element_is_linearisation ? elements + p * es : own;
      rest[p] = own + n + D;
    }
    Structure::template linearise_points<G>(cell, h, x, f, F, rest);
    for (int p = 0; p < G; ++p) build_step(b, t + p, h[p], f[p], F[p], elements + p * es, rest[p]);
    if (int(iterate.stride_1()) != D) {
      for (int p = 0; p < G; ++p) report_residual(b, t + p, f[p], max_residual);
      return;
    }
    const Scalar r = math::max_abs_difference(G * D, &iterate(b, t, 0), fs, Scalar(0));
    max_residual = r > max_residual ? r : max_residual;
    // The exact prefix needs the first step above the tolerance: only a group holding one,
    // and starting before the prefix's end found so far, is looked at step by step.
    if (first_inexact.data() != nullptr && r > prefix_tolerance &&
        t < *static_cast<volatile int*>(first_inexact.data()))
      for (int p = 0; p < G; ++p) report_residual(b, t + p, f[p], max_residual);
  }

 private:
  // The stored linearisation of step t.  The store and the iterate are streamed a step at a
  // time, the iterate read again by the sink (the update norm): ask for both a few steps
  // ahead (6% of a quasi-DEER sweep).
  KOKKOS_INLINE_FUNCTION const Scalar* loaded(int b, int t) const {
    if (t + kPrefetchSteps < int(cache.data.extent(1))) {
      prefetch_for_read(&cache.data(b, t + kPrefetchSteps, 0),
                        int(cache.data.extent(2) * sizeof(Scalar)));
      prefetch_for_read(&iterate(b, t + kPrefetchSteps, 0), dim * int(sizeof(Scalar)));
    }
    return &cache.data(b, t, 0);
  }

  // The state before step t: the previous iterate, or the slice's boundary.
  KOKKOS_INLINE_FUNCTION const Scalar* input_state(int b, int t) const {
    return t == 0 ? &boundary.previous(b, 0) : &iterate(b, t - 1, 0);
  }

  // From f = f(h, x_t) and F: the residual and exact prefix, then build_step.
  KOKKOS_INLINE_FUNCTION void complete(int b, int t, const Scalar* h, const Scalar* f, Scalar* F,
                                       Scalar* element, Scalar* rest, Scalar& max_residual) const {
    report_residual(b, t, f, max_residual);
    build_step(b, t, h, f, F, element, rest);
  }

  // Step t's residual |s^(i)_t - f| into the max and the exact prefix.
  KOKKOS_INLINE_FUNCTION void report_residual(int b, int t, const Scalar* f,
                                              Scalar& max_residual) const {
    const Scalar step_residual = math::max_abs_difference(dim, &iterate(b, t, 0), f, Scalar(0));
    max_residual = step_residual > max_residual ? step_residual : max_residual;
    note_inexact_step(first_inexact.data(), t, step_residual, prefix_tolerance);
  }

  // u = f - F h (f where h is null: F = 0) into the D scalars after F, so that [F | u] is
  // the stored layout (one copy); the store, and the element.
  KOKKOS_INLINE_FUNCTION void build_step(int b, int t, const Scalar* h, const Scalar* f, Scalar* F,
                                         Scalar* element, Scalar* rest) const {
    const int D = dim, n = Structure::size(D);
    Scalar* u = F + n;
    linearisation_offset<Structure>(D, F, h, f, u);
    if (cache.mode == cache.Store) {
      Scalar* stored = &cache.data(b, t, 0);
      for (int i = 0; i < n + D; ++i) stored[i] = F[i];
    }
    builder.build(b, D, F, u, &iterate(b, t, 0), element, rest);
  }
};

/// Generator for the RTS smoother's reverse affine scan m^s_t = E_t m^s_{t+1} + g_t, with
/// E_t = P_t F^T (F P_t F^T + I)^-1 and g_t = m_t - E_t (F m_t + u), where (F, u) is the
/// linearisation of step t+1 and (m_t, P_t) the filtered moments; at the last step
/// E = 0, g = m.
template <class Cell, class Structure, class MemorySpace>
struct SmootherElements {
  using Scalar = typename Cell::value_type;
  using States = Kokkos::View<const Scalar***, Kokkos::LayoutRight, MemorySpace>;
  Cell cell;
  States inputs;         // (B, T, I)
  States iterate;        // (B, T, D)
  States filtered_mean;  // (B, T, D)
  States filtered_cov;   // (B, T, Structure::size(D))
  SliceBoundary<Scalar, MemorySpace> boundary;
  int dim, length;
  StoredLinearisation<Scalar, MemorySpace> cache = {};  // read (Load) where it holds step t+1

  int scratch_size() const {
    return 3 * dim + Structure::size(dim) + cells::CellJacobian<Cell>::scratch_size(cell) +
           Structure::smoother_scratch(dim);
  }

  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, Scalar* element, Scalar* scratch,
                                         Scalar& /*unused*/) const {
    const int D = dim, n = Structure::size(D);
    Scalar* E = element;
    Scalar* g = element + n;
    const Scalar* m = &filtered_mean(b, t, 0);
    if (t == length - 1 && boundary.ends_sequence) {
      for (int i = 0; i < n; ++i) E[i] = Scalar(0);
      for (int i = 0; i < D; ++i) g[i] = m[i];
      return;
    }
    Scalar *f = scratch, *F = f + D, *u = F + n, *v = u + D, *rest = v + D;
    if (cache.mode == cache.Load && t + 1 < length) {
      F = &cache.data(b, t + 1, 0);
      u = F + n;
    } else {
      const Scalar* h = &iterate(b, t, 0);
      const Scalar* x = t + 1 < length ? &inputs(b, t + 1, 0) : &boundary.next_input(b, 0);
      Structure::linearise(cell, h, x, f, F, rest);
      linearisation_offset<Structure>(D, F, h, f, u);
    }
    Structure::smoother_gain(D, F, &filtered_cov(b, t, 0), E, rest);
    Structure::apply(D, F, m, v);  // v = F m + u, g = m - E v
    for (int i = 0; i < D; ++i) v[i] += u[i];
    Structure::apply(D, E, v, g);
    for (int i = 0; i < D; ++i) g[i] = m[i] - g[i];
  }
};

/// Sink: writes the scan state's mean as the next iterate and reports max |new - old|
/// (infinite if the new value is not finite).
template <class Element, class MemorySpace>
struct WriteIterate {
  using Scalar = typename Element::value_type;
  Element op;
  Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace> next;           // (B, T, D)
  Kokkos::View<const Scalar***, Kokkos::LayoutRight, MemorySpace> current;  // (B, T, D)

  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, const Scalar* state,
                                         Scalar& max_update) const {
    write(b, t, state);
    report(b, t, 1, max_update);
  }

  /// The split form (see scan/chunked_scan.hpp): write step t now, report the update of
  /// steps t .. t + count - 1 after they are written, in one reduction where rows are
  /// contiguous (one horizontal max a group instead of one a step: 8% of a quasi-DEER sweep
  /// went to these maxima).
  KOKKOS_INLINE_FUNCTION void write(int b, int t, const Scalar* state) const {
    const Scalar* m = op.mean(state);
    Scalar* out = &next(b, t, 0);
    for (int i = 0; i < op.dim; ++i) out[i] = m[i];
  }
  KOKKOS_INLINE_FUNCTION void report(int b, int t, int count, Scalar& max_update) const {
    const int D = op.dim;
    if (int(next.stride_1()) == D && int(current.stride_1()) == D) {
      max_update =
          math::max_abs_difference(count * D, &next(b, t, 0), &current(b, t, 0), max_update);
      return;
    }
    for (int p = 0; p < count; ++p)
      max_update =
          math::max_abs_difference(D, &next(b, t + p, 0), &current(b, t + p, 0), max_update);
  }
};

/// Sink: stores the filtered mean and covariance for the smoother pass.
template <class Element, class MemorySpace>
struct StoreFiltered {
  using Scalar = typename Element::value_type;
  Element op;
  Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace> mean;  // (B, T, D)
  Kokkos::View<Scalar***, Kokkos::LayoutRight, MemorySpace> cov;   // (B, T, D or D*D)

  KOKKOS_INLINE_FUNCTION void operator()(int b, int t, const Scalar* state,
                                         Scalar& max_value) const {
    const int D = op.dim, nc = int(cov.extent(2));
    const Scalar* m = op.mean(state);
    const Scalar* P = op.covariance(state);
    for (int i = 0; i < D; ++i) {
      mean(b, t, i) = m[i];
      const Scalar a = math::abs_or_inf(m[i]);
      if (a > max_value) max_value = a;
    }
    for (int i = 0; i < nc; ++i) cov(b, t, i) = P[i];
  }
};

}  // namespace ungulate::solvers
