// Embedding example: evaluate a small GRU with quasi-DEER and check it against sequential.
#include <ungulate/ungulate.hpp>
#ifdef UNGULATE_HAVE_HDF5
#include <ungulate/io/h5file.hpp>
#endif
#ifdef CONSUMER_HAVE_C_API
#include <ungulate/ungulate.h>
#endif

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  const int B = 2, T = 500, D = 4;
  auto gru = ungulate::make_benchmark_gru<double>(D, D, 7);
  auto x = ungulate::make_benchmark_inputs<double>(B, T, D, 8);
  Kokkos::View<double**, Kokkos::LayoutRight> s0("s0", B, D);
  Kokkos::View<double***, Kokkos::LayoutRight> ref("ref", B, T, D), out("out", B, T, D);
  ungulate::SolverOptions opt;
  opt.method = ungulate::Method::Sequential;
  ungulate::solve(gru, x, s0, ref, opt);
  opt.method = ungulate::Method::QuasiDeer;
  const auto result = ungulate::solve(gru, x, s0, out, opt);
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ref);
  auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  double err = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    err = std::fmax(err, std::fabs(a.data()[i] - b.data()[i]));
  std::printf("ungulate %s: %s in %d iterations, max error %.3g\n", ungulate::version(),
              ungulate::to_string(result.status), result.iterations, err);
#ifdef UNGULATE_HAVE_HDF5
  std::printf("ungulate::io linked (stores %s)\n",
              ungulate::io::to_string(ungulate::io::DType::Float32));
#endif
#ifdef CONSUMER_HAVE_C_API
  // The C API beside the C++ one: it finds Kokkos initialised and leaves it alone.
  ungulate_model m = nullptr;
  const int code = ungulate_model_lorenz96(8, 8.0, 0.01, &m);
  int c_size = 0;
  ungulate_model_state_size(m, &c_size);
  ungulate_model_free(m);
  std::printf("ungulate::c linked (%s, Kokkos initialised: %d)\n", ungulate_version(),
              ungulate_is_initialized());
  if (code != UNGULATE_OK || c_size != 8) return 1;
#endif
  return result.status == ungulate::Status::Converged && err < 1e-6 ? 0 : 1;
}
