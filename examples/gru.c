/* A small GRU from arrays, evaluated with quasi-DEER across the MPI ranks and checked against
 * sequential evaluation; then the gradient of L = sum of all states with respect to the initial
 * state and the weights.  Run: mpirun -np 2 ./gru_c  (or ./gru_c alone).  Exit code 0 when
 * quasi-DEER converged and matches sequential to 1e-6, 1 otherwise. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include <ungulate/ungulate.h>

enum { HIDDEN = 8, INPUTS = 3, BATCH = 2 };
static const long long LENGTH = 2000; /* global number of steps */

/* Deterministic pseudo-random numbers in [-1, 1) from an index, the same on every rank. */
static double noise(unsigned long long i) {
  unsigned long long x = i * 6364136223846793005ULL + 1442695040888963407ULL;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (double)(x >> 11) / 4503599627370496.0 - 1.0;
}

#define CHECK(call)                                                                \
  do {                                                                             \
    int code_ = (call);                                                            \
    if (code_ != UNGULATE_OK) {                                                    \
      fprintf(stderr, "%s failed: %s (%s)\n", #call, ungulate_error_string(code_), \
              ungulate_last_error());                                              \
      MPI_Abort(MPI_COMM_WORLD, 2);                                                \
    }                                                                              \
  } while (0)

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  CHECK(ungulate_initialize(&argc, argv));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const ungulate_fint comm = (ungulate_fint)MPI_Comm_c2f(MPI_COMM_WORLD);

  /* Weights in the HDF5 layout: input_kernel (3, H, I), recurrent_kernel (3, H, H),
   * biases (3, H); kernels scaled like the benchmark's (about 1/sqrt(fan-in)). */
  static double wi[3 * HIDDEN * INPUTS], wh[3 * HIDDEN * HIDDEN], bi[3 * HIDDEN], bh[3 * HIDDEN];
  for (int k = 0; k < 3 * HIDDEN * INPUTS; ++k) wi[k] = noise(k) / sqrt((double)INPUTS);
  for (int k = 0; k < 3 * HIDDEN * HIDDEN; ++k) wh[k] = noise(1000 + k) / sqrt((double)HIDDEN);
  for (int k = 0; k < 3 * HIDDEN; ++k) {
    bi[k] = 0.1 * noise(5000 + k);
    bh[k] = 0.1 * noise(6000 + k);
  }
  ungulate_model model = NULL;
  CHECK(ungulate_model_gru(HIDDEN, INPUTS, wi, wh, bi, bh, &model));

  /* This rank's time slice: steps [first, first + local) of every sequence. */
  long long first = 0, local = 0;
  CHECK(ungulate_mpi_slice(comm, LENGTH, &first, &local));
  double* x = malloc(sizeof(double) * (size_t)(BATCH * (local > 0 ? local : 1) * INPUTS));
  double* fast = malloc(sizeof(double) * (size_t)(BATCH * (local > 0 ? local : 1) * HIDDEN));
  double* slow = malloc(sizeof(double) * (size_t)(BATCH * (local > 0 ? local : 1) * HIDDEN));
  double s0[BATCH * HIDDEN];
  for (int k = 0; k < BATCH * HIDDEN; ++k) s0[k] = 0.5 * noise(9000 + k);
  for (int b = 0; b < BATCH; ++b)
    for (long long t = 0; t < local; ++t)
      for (int i = 0; i < INPUTS; ++i)
        x[(b * local + t) * INPUTS + i] =
            noise(100000 + ((unsigned long long)b * LENGTH + first + t) * INPUTS + i);

  ungulate_options options = NULL;
  CHECK(ungulate_options_create(&options));
  CHECK(ungulate_options_set_method(options, "quasi-deer"));
  CHECK(ungulate_options_set_tolerance(options, 1e-9));
  ungulate_result result = NULL;
  CHECK(ungulate_solve_mpi_f64(model, options, comm, BATCH, local, INPUTS, x, HIDDEN, s0, fast,
                               &result));
  int status = 0, iterations = 0;
  double residual = 0;
  CHECK(ungulate_result_status(result, &status));
  CHECK(ungulate_result_iterations(result, &iterations));
  CHECK(ungulate_result_residual(result, &residual));

  ungulate_result reference = NULL;
  CHECK(ungulate_options_set_method(options, "seq"));
  CHECK(ungulate_solve_mpi_f64(model, options, comm, BATCH, local, INPUTS, x, HIDDEN, s0, slow,
                               &reference));

  double error = 0;
  for (long long k = 0; k < BATCH * local * HIDDEN; ++k)
    error = fmax(error, fabs(fast[k] - slow[k]));
  MPI_Allreduce(MPI_IN_PLACE, &error, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const int ok = status == UNGULATE_STATUS_CONVERGED && error < 1e-6;
  if (rank == 0)
    printf(
        "gru_c: ungulate %s, %d rank(s), T %lld: quasi-deer %s in %d iterations, residual "
        "%.2e, max |quasi-deer - seq| %.2e: %s\n",
        ungulate_version(), ranks, LENGTH,
        status == UNGULATE_STATUS_CONVERGED ? "converged" : "did not converge", iterations,
        residual, error, ok ? "OK" : "MISMATCH");

  /* Gradient of L = sum over b, t, i of s_t[b, i]: the cotangent dL/ds_t is 1 everywhere. */
  long long parameters = 0, offset = 0, size = 0;
  CHECK(ungulate_model_parameter_count(model, &parameters));
  double* cotangent = malloc(sizeof(double) * (size_t)(BATCH * (local > 0 ? local : 1) * HIDDEN));
  double* grad_weights = malloc(sizeof(double) * (size_t)parameters);
  double grad_s0[BATCH * HIDDEN];
  for (long long k = 0; k < BATCH * local * HIDDEN; ++k) cotangent[k] = 1.0;
  CHECK(ungulate_gradient_mpi_f64(model, NULL, comm, BATCH, local, INPUTS, x, HIDDEN, s0, slow,
                                  cotangent, NULL, grad_s0, grad_weights));
  const char* block = NULL;
  CHECK(ungulate_model_parameter_block(model, 1, &block, &offset, &size, NULL, NULL));
  double norm_s0 = 0, norm_block = 0;
  for (int k = 0; k < BATCH * HIDDEN; ++k) norm_s0 += grad_s0[k] * grad_s0[k];
  for (long long k = 0; k < size; ++k)
    norm_block += grad_weights[offset + k] * grad_weights[offset + k];
  if (rank == 0)
    printf("gru_c: gradient of sum(s): |dL/ds_0| %.3e, |dL/d%s| %.3e\n", sqrt(norm_s0), block,
           sqrt(norm_block));
  free(cotangent);
  free(grad_weights);

  ungulate_result_free(reference);
  ungulate_result_free(result);
  ungulate_options_free(options);
  ungulate_model_free(model);
  free(x);
  free(fast);
  free(slow);
  CHECK(ungulate_finalize());
  MPI_Finalize();
  return ok ? 0 : 1;
}
