#include <gtest/gtest.h>

#include "ungulate/ungulate.hpp"

TEST(Smoke, QuasiDeerMatchesSequential) {
  auto gru = ungulate::make_benchmark_gru<double>(8, 8, 1);
  auto x = ungulate::make_benchmark_inputs<double>(2, 100, 8, 2);
  Kokkos::View<double**, Kokkos::LayoutRight> s0("s0", 2, 8);
  Kokkos::View<double***, Kokkos::LayoutRight> ref("ref", 2, 100, 8), out("out", 2, 100, 8);
  ungulate::SolverOptions o;
  o.method = ungulate::Method::Sequential;
  ungulate::solve(gru, x, s0, ref, o);
  for (auto m : {ungulate::Method::QuasiDeer, ungulate::Method::Deer, ungulate::Method::Elk,
                 ungulate::Method::QuasiElk}) {
    for (auto est : {ungulate::KalmanEstimate::Filter, ungulate::KalmanEstimate::Smoother}) {
      o.method = m;
      o.elk_estimate = est;
      auto r = ungulate::solve(gru, x, s0, out, o);
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
      auto hr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ref);
      double err = 0;
      for (size_t i = 0; i < h.size(); ++i)
        err = std::max(err, std::abs(h.data()[i] - hr.data()[i]));
      std::printf("%s %s it=%d res=%g err=%g\n", ungulate::to_string(m),
                  est == ungulate::KalmanEstimate::Filter ? "filter" : "smoother", r.iterations,
                  r.final_residual, err);
      EXPECT_EQ(r.status, ungulate::Status::Converged);
      EXPECT_LT(err, 1e-6);
    }
  }
}
