#pragma once
// Random scan elements of every type, with host double-precision reference combines.
#include "test_helpers.hpp"

namespace ut {

namespace us = ungulate::scan;

// ---- random elements and host reference combines, per element type ----------------------

enum class Kind { AffineDiagonal, AffineDense, KalmanDiagonal, KalmanDense };

template <class Op>
struct ElementTraits;

template <class S>
struct ElementTraits<us::AffineDiagonal<S>> {
  static constexpr Kind kind = Kind::AffineDiagonal;
  // [a, b]
  static std::vector<double> random(int D, Rng& rng, bool /*anchored*/, double gain = 1.0) {
    auto e = uniform_vector(D, rng, -1.2 * gain, 1.2 * gain);
    const auto b = normal_vector(D, rng);
    e.insert(e.end(), b.begin(), b.end());
    return e;
  }
  static std::vector<double> combine(int D, const std::vector<double>& i,
                                     const std::vector<double>& j) {
    std::vector<double> o(2 * D);
    for (int k = 0; k < D; ++k) {
      o[k] = j[k] * i[k];
      o[D + k] = j[k] * i[D + k] + j[D + k];
    }
    return o;
  }
};

template <class S>
struct ElementTraits<us::AffineDense<S>> {
  static constexpr Kind kind = Kind::AffineDense;
  // [A (DxD), b]
  static std::vector<double> random(int D, Rng& rng, bool /*anchored*/, double gain = 1.0) {
    auto e = normal_vector(std::size_t(D) * D, rng, gain / std::sqrt(double(D)));
    const auto b = normal_vector(D, rng);
    e.insert(e.end(), b.begin(), b.end());
    return e;
  }
  static std::vector<double> combine(int D, const std::vector<double>& i,
                                     const std::vector<double>& j) {
    const std::size_t DD = std::size_t(D) * D;
    const Mat Ai(i.begin(), i.begin() + DD), Aj(j.begin(), j.begin() + DD);
    const std::vector<double> bi(i.begin() + DD, i.end()), bj(j.begin() + DD, j.end());
    std::vector<double> o = matmul(D, Aj, Ai);
    const auto b = add(matvec(D, Aj, bi), bj);
    o.insert(o.end(), b.begin(), b.end());
    return o;
  }
};

template <class S>
struct ElementTraits<us::KalmanDiagonal<S>> {
  static constexpr Kind kind = Kind::KalmanDiagonal;
  // [A, b, C, J, eta]; C, J >= 0.  Anchored (start of a sequence): A = J = eta = 0.
  static std::vector<double> random(int D, Rng& rng, bool anchored, double gain = 1.0) {
    std::vector<double> e = uniform_vector(D, rng, -1.2 * gain, 1.2 * gain);
    for (const auto& part : {normal_vector(D, rng), uniform_vector(D, rng, 0.05, 2.0),
                             uniform_vector(D, rng, 0.0, 2.0), normal_vector(D, rng)})
      e.insert(e.end(), part.begin(), part.end());
    if (anchored)
      for (int k = 0; k < D; ++k) e[k] = e[3 * D + k] = e[4 * D + k] = 0.0;
    return e;
  }
  static std::vector<double> combine(int D, const std::vector<double>& i,
                                     const std::vector<double>& j) {
    std::vector<double> o(5 * D);
    for (int k = 0; k < D; ++k) {
      const double Ai = i[k], bi = i[D + k], Ci = i[2 * D + k], Ji = i[3 * D + k],
                   ei = i[4 * D + k];
      const double Aj = j[k], bj = j[D + k], Cj = j[2 * D + k], Jj = j[3 * D + k],
                   ej = j[4 * D + k];
      const double m = 1.0 / (1.0 + Ci * Jj);
      o[k] = Aj * m * Ai;
      o[D + k] = Aj * m * (bi + Ci * ej) + bj;
      o[2 * D + k] = Aj * m * Ci * Aj + Cj;
      o[3 * D + k] = Ai * (1.0 / (1.0 + Jj * Ci)) * Jj * Ai + Ji;
      o[4 * D + k] = Ai * (1.0 / (1.0 + Jj * Ci)) * (ej - Jj * bi) + ei;
    }
    return o;
  }
};

template <class S>
struct ElementTraits<us::KalmanDense<S>> {
  static constexpr Kind kind = Kind::KalmanDense;
  // [A, b, C, J, eta] with C, J symmetric PSD (G G^T scaled).
  static std::vector<double> random(int D, Rng& rng, bool anchored, double gain = 1.0) {
    const std::size_t DD = std::size_t(D) * D;
    std::vector<double> e = normal_vector(DD, rng, gain / std::sqrt(double(D)));
    if (anchored) std::fill(e.begin(), e.end(), 0.0);
    const auto b = normal_vector(D, rng);
    const auto C = random_psd(D, rng, 1.0);
    auto J = random_psd(D, rng, 1.5);
    auto eta = normal_vector(D, rng);
    if (anchored) {
      std::fill(J.begin(), J.end(), 0.0);
      std::fill(eta.begin(), eta.end(), 0.0);
    }
    for (const std::vector<double>* part :
         std::initializer_list<const std::vector<double>*>{&b, &C, &J, &eta})
      e.insert(e.end(), part->begin(), part->end());
    return e;
  }
  // Sarkka & Garcia-Fernandez (2021), Lemma 8, written with explicit inverses.
  static std::vector<double> combine(int D, const std::vector<double>& i,
                                     const std::vector<double>& j) {
    const std::size_t DD = std::size_t(D) * D;
    auto block = [&](const std::vector<double>& e, std::size_t off, std::size_t len) {
      return std::vector<double>(e.begin() + off, e.begin() + off + len);
    };
    const Mat Ai = block(i, 0, DD), Ci = block(i, DD + D, DD), Ji = block(i, 2 * DD + D, DD);
    const Mat Aj = block(j, 0, DD), Cj = block(j, DD + D, DD), Jj = block(j, 2 * DD + D, DD);
    const auto bi = block(i, DD, D), ei = block(i, 3 * DD + D, D);
    const auto bj = block(j, DD, D), ej = block(j, 3 * DD + D, D);
    const Mat I = identity(D);
    const Mat inv1 = inverse(D, add(I, matmul(D, Ci, Jj)));  // (I + C_i J_j)^-1
    const Mat inv2 = inverse(D, add(I, matmul(D, Jj, Ci)));  // (I + J_j C_i)^-1
    const Mat AjInv = matmul(D, Aj, inv1);
    const Mat AiT = transpose(D, Ai);
    const Mat A = matmul(D, AjInv, Ai);
    const auto b = add(matvec(D, AjInv, add(bi, matvec(D, Ci, ej))), bj);
    const Mat C = add(matmul(D, matmul(D, AjInv, Ci), transpose(D, Aj)), Cj);
    const auto eta = add(matvec(D, matmul(D, AiT, inv2), add(ej, matvec(D, Jj, bi), -1.0)), ei);
    const Mat J = add(matmul(D, matmul(D, matmul(D, AiT, inv2), Jj), Ai), Ji);
    std::vector<double> o = A;
    for (const std::vector<double>* part :
         std::initializer_list<const std::vector<double>*>{&b, &C, &J, &eta})
      o.insert(o.end(), part->begin(), part->end());
    return o;
  }
};

/// The same element type in double precision (host references).
template <class Op>
struct AsDouble;
template <template <class> class E, class S>
struct AsDouble<E<S>> {
  using type = E<double>;
};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::AffineDiagonal:
      return "AffineDiagonal";
    case Kind::AffineDense:
      return "AffineDense";
    case Kind::KalmanDiagonal:
      return "KalmanDiagonal";
    case Kind::KalmanDense:
      return "KalmanDense";
  }
  return "?";
}

using ElementTypes =
    ::testing::Types<us::AffineDiagonal<float>, us::AffineDiagonal<double>, us::AffineDense<float>,
                     us::AffineDense<double>, us::KalmanDiagonal<float>, us::KalmanDiagonal<double>,
                     us::KalmanDense<float>, us::KalmanDense<double>>;

struct ElementNames {
  template <class T>
  static std::string GetName(int) {
    return std::string(kind_name(ElementTraits<T>::kind)) + "_" +
           scalar_name<typename T::value_type>();
  }
};

}  // namespace ut
