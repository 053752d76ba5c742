/* ungulate C API: parallel-in-time evaluation of nonlinear recurrences s_t = f(s_{t-1}, x_t)
 * from C, Fortran (ISO_C_BINDING, fortran/ungulate.f90) and anything else that calls C.
 *
 * C99, usable from C++ (extern "C").  Link: find_package(ungulate) then
 * target_link_libraries(app PRIVATE ungulate::c).  Full description: docs/c_api.md.
 *
 * Conventions
 *  - Every function returns an ungulate_error code: UNGULATE_OK (0) or a failure.  On failure
 *    ungulate_last_error() returns a one-line message (per thread).  No function throws a C++
 *    exception or calls exit().
 *  - Handles (models, options, results) are opaque pointers, created by *_create / *_load /
 *    solve and released by *_free (free(NULL) is a no-op).  They hold host memory only, so
 *    they may outlive ungulate_finalize().
 *  - Arrays are row-major (C order), contiguous, on the host: inputs (B, T, I), states
 *    (B, T, D), initial state (B, D).  Fortran callers declare them reversed:
 *    inputs(I, T, B), states(D, T, B), s0(D, B).
 *  - Sizes are long long (int64) so that B * T * D may exceed 2^31.
 *
 * MPI
 *  ungulate.h does not include mpi.h.  A communicator is passed as its Fortran handle,
 *  ungulate_fint = MPI_Fint (an int in every MPI this library supports: Open MPI, MPICH):
 *  from C, MPI_Comm_c2f(comm); from Fortran, the integer communicator itself (use mpi) or
 *  comm%MPI_VAL (use mpi_f08).  The caller initialises and finalises MPI.
 *
 * Thread safety
 *  ungulate_initialize / ungulate_finalize: call once each, from the main thread.  Solves are
 *  serialised by a library-wide lock (Kokkos' execution spaces are not re-entrant from
 *  several host threads), so concurrent calls are safe but do not run concurrently; under
 *  MPI every rank must issue its solves on a communicator in the same order.  Whether a
 *  thread other than the one that initialised Kokkos may solve at all is Kokkos' decision:
 *  the Serial backend allows it, Kokkos 3's OpenMP backend refuses (the solve returns
 *  UNGULATE_ERROR_INTERNAL, "uninitialized execution space"); portable code solves from the
 *  initialising thread.  Everything else (models, options, results) needs no Kokkos and
 *  works from any thread.  Handles may be read from several threads at once; a handle must
 *  not be freed or modified (options setters) while another thread uses it.
 *  ungulate_last_error() is per thread.
 */
#ifndef UNGULATE_UNGULATE_H
#define UNGULATE_UNGULATE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (function return values). */
typedef enum ungulate_error {
  UNGULATE_OK = 0,
  UNGULATE_ERROR_NULL_POINTER = 1,     /* a required pointer argument was NULL */
  UNGULATE_ERROR_INVALID_ARGUMENT = 2, /* a value out of range, an unknown name */
  UNGULATE_ERROR_SIZE_MISMATCH = 3,    /* array sizes that do not fit the model or each other */
  UNGULATE_ERROR_NOT_INITIALIZED = 4,  /* ungulate_initialize() not called (or finalized) */
  UNGULATE_ERROR_IO = 5,               /* reading a model file failed */
  UNGULATE_ERROR_MPI = 6,              /* MPI not initialised, a bad communicator, a call failed */
  UNGULATE_ERROR_OUT_OF_MEMORY = 7,
  UNGULATE_ERROR_INTERNAL = 8,  /* anything else (a bug: please report the message) */
  UNGULATE_ERROR_NOT_FINITE = 9 /* a gradient overflowed (NaN or Inf); the outputs are written */
} ungulate_error;

/* How a solve ended (ungulate_result_status).  CONVERGED: the residual
 * max_t |s_t - f(s_{t-1}, x_t)| is within the tolerance.  STALLED: the step fell below the
 * tolerance but the residual did not.  The states hold the last finite iterate in all cases. */
typedef enum ungulate_status {
  UNGULATE_STATUS_CONVERGED = 0,
  UNGULATE_STATUS_MAX_ITERATIONS = 1,
  UNGULATE_STATUS_DIVERGED = 2,
  UNGULATE_STATUS_STALLED = 3
} ungulate_status;

/* What a solve did besides its own iteration (ungulate_result_fallback). */
typedef enum ungulate_fallback {
  UNGULATE_FALLBACK_NONE = 0,
  UNGULATE_FALLBACK_DAMPED = 1,      /* (quasi-)DEER went on with damped (ELK-type) steps */
  UNGULATE_FALLBACK_SEQUENTIAL = 2,  /* the suffix was evaluated sequentially */
  UNGULATE_FALLBACK_WARM_RESTART = 3 /* restarted from the windowed warm start */
} ungulate_fallback;

/* MPI_Fint: a communicator's Fortran handle (MPI_Comm_c2f).  An int in Open MPI and MPICH. */
typedef int ungulate_fint;

typedef struct ungulate_model_s* ungulate_model;
typedef struct ungulate_options_s* ungulate_options;
typedef struct ungulate_result_s* ungulate_result;
typedef struct ungulate_workspace_s* ungulate_workspace;

/* ---- library -------------------------------------------------------------------------- */

/* Initialises Kokkos unless the caller already has (then ungulate leaves it to the caller).
 * argc/argv may be NULL; when given, Kokkos reads its --kokkos-* options from them.  Calling
 * it again is a no-op.  MPI, if used, is the caller's to initialise (before or after). */
int ungulate_initialize(int* argc, char** argv);
/* Finalises Kokkos if ungulate_initialize() initialised it.  Kokkos cannot be initialised
 * again afterwards (a Kokkos rule), so call it once, at the end. */
int ungulate_finalize(void);
/* 1 between ungulate_initialize() and ungulate_finalize() (or if Kokkos is initialised). */
int ungulate_is_initialized(void);
/* The library version, "major.minor.patch". */
const char* ungulate_version(void);
/* The message of this thread's last failure ("" if none yet).  Valid until this thread's
 * next ungulate call. */
const char* ungulate_last_error(void);
/* A fixed description of an error code ("null pointer", ...). */
const char* ungulate_error_string(int code);

/* ---- models --------------------------------------------------------------------------- */

/* Reads a model group (default "/model" if group is NULL) of any supported cell ("gru",
 * "lstm", "lorenz96"; docs/hdf5.md) from an HDF5 file.  Collective over comm (parallel
 * HDF5; MPI must be initialised): every rank gets the whole model. */
int ungulate_model_load(const char* path, const char* group, ungulate_fint comm,
                        ungulate_model* model);
/* GRU (flax/PyTorch convention, gates r, z, n), in the HDF5 layout (row-major):
 *   input_kernel (3, hidden, inputs), recurrent_kernel (3, hidden, hidden),
 *   input_bias (3, hidden), recurrent_bias (3, hidden).  Values are copied. */
int ungulate_model_gru(int hidden, int inputs, const double* input_kernel,
                       const double* recurrent_kernel, const double* input_bias,
                       const double* recurrent_bias, ungulate_model* model);
/* LSTM (PyTorch nn.LSTMCell, gates i, f, g, o): weight_ih (4 hidden, inputs),
 * weight_hh (4 hidden, hidden), bias_ih (4 hidden), bias_hh (4 hidden).  The state is (h, c):
 * 2 hidden values, h first. */
int ungulate_model_lstm(int hidden, int inputs, const double* weight_ih, const double* weight_hh,
                        const double* bias_ih, const double* bias_hh, ungulate_model* model);
/* Lorenz-96 with n variables, forcing F and one RK4 step of dt per time step; the input is a
 * forcing perturbation (input size n). */
int ungulate_model_lorenz96(int n, double forcing, double dt, ungulate_model* model);
void ungulate_model_free(ungulate_model model);
/* D, the values per state, and I, the values per input. */
int ungulate_model_state_size(const struct ungulate_model_s* model, int* size);
int ungulate_model_input_size(const struct ungulate_model_s* model, int* size);
/* "gru", "lstm" or "lorenz96" (a static string). */
int ungulate_model_cell(const struct ungulate_model_s* model, const char** name);

/* ---- solver options ------------------------------------------------------------------- */

/* Defaults: those of the C++ SolverOptions (quasi-deer, tolerance 1e-4 in float / 1e-7 in
 * double, the method's own iteration cap, lambda 0.01 with an adaptive trust region, the
 * library's default ELK estimate, zeros init, fallback on, chunks chosen by the library). */
int ungulate_options_create(ungulate_options* options);
void ungulate_options_free(ungulate_options options);
/* "seq", "deer", "quasi-deer", "elk", "quasi-elk" or "auto". */
int ungulate_options_set_method(ungulate_options options, const char* method);
/* > 0, or negative for the precision's default.  Zero and NaN are refused. */
int ungulate_options_set_tolerance(ungulate_options options, double tolerance);
/* >= 0, or negative for the default. */
int ungulate_options_set_max_iterations(ungulate_options options, int max_iterations);
/* ELK trust-region strength: finite, >= 0 (the first step's with an adaptive region). */
int ungulate_options_set_lambda(ungulate_options options, double lambda);
/* "adaptive" or "fixed". */
int ungulate_options_set_trust_region(ungulate_options options, const char* trust_region);
/* ELK step estimate: "smoother" (the exact trust-region step) or "filter" (the paper's). */
int ungulate_options_set_elk_estimate(ungulate_options options, const char* estimate);
/* Starting iterate: "zeros", "warm" (chunk-parallel windowed sequential) or "given" (the
 * states array as passed to the solve). */
int ungulate_options_set_init(ungulate_options options, const char* init);
/* 1: never worse than sequential (fallbacks on, the default); 0: the raw method. */
int ungulate_options_set_fallback(ungulate_options options, int enabled);
/* Chunks per sequence of the in-process scan; <= 0 chooses. */
int ungulate_options_set_chunks(ungulate_options options, int chunks);
/* Solves with these options keep their large arrays in `workspace` (NULL: each solve
 * allocates its own and frees it on return, the default).  The workspace must not be freed
 * while the options name it (a solve refuses a freed one). */
int ungulate_options_set_workspace(ungulate_options options, ungulate_workspace workspace);

/* ---- workspace ------------------------------------------------------------------------ */

/* The large arrays of the iterative solves (the next iterate, stored linearisations, the
 * smoother's covariances: 307 MB at GRU 16, batch 16, length 1e5 in float), kept between
 * solves: code that solves again and again (a time loop, training) allocates and
 * first-touches them once.  They grow to the largest solve and are freed by
 * ungulate_workspace_free or at ungulate_finalize (Kokkos::finalize); one solve at a time
 * uses them.  Creating one allocates nothing. */
int ungulate_workspace_create(ungulate_workspace* workspace);
void ungulate_workspace_free(ungulate_workspace workspace);
/* Bytes held now. */
int ungulate_workspace_bytes(const struct ungulate_workspace_s* workspace, long long* bytes);

/* ---- solving -------------------------------------------------------------------------- */

/* Evaluates batch sequences of `length` steps in one process:
 *   inputs (batch, length, input_size), initial_state (batch, state_size) or NULL for zeros,
 *   states (batch, length, state_size), output.
 * input_size and state_size must be the model's (they are the caller's statement of its
 * array shapes, checked).  options may be NULL (defaults).  result may be NULL; otherwise
 * *result receives a new result handle (free it with ungulate_result_free) whenever the solve
 * ran, whatever its status.  Returns UNGULATE_OK when the solve ran, even if it did not
 * converge: check ungulate_result_status. */
int ungulate_solve_f32(const struct ungulate_model_s* model,
                       const struct ungulate_options_s* options, long long batch, long long length,
                       int input_size, const float* inputs, int state_size,
                       const float* initial_state, float* states, ungulate_result* result);
int ungulate_solve_f64(const struct ungulate_model_s* model,
                       const struct ungulate_options_s* options, long long batch, long long length,
                       int input_size, const double* inputs, int state_size,
                       const double* initial_state, double* states, ungulate_result* result);

/* The same across the ranks of comm, each owning a contiguous time slice of every sequence:
 * rank r passes local_length (its slice's steps, >= 0) and the inputs / states of its slice
 * only, (batch, local_length, .).  Slices follow rank order: rank 0 holds steps
 * [0, n_0), rank 1 [n_0, n_0 + n_1), ...; the global length is the sum (an MPI_Allreduce;
 * ungulate_mpi_slice gives the library's even split).  Ranks with an empty slice must come
 * last.  batch, the sizes and the options must agree on every rank; initial_state is read on
 * rank 0 only (may be NULL elsewhere).  Collective: every rank of comm calls it, and every
 * rank returns the same error code (a bad argument on one rank fails all of them, with that
 * rank's message). */
int ungulate_solve_mpi_f32(const struct ungulate_model_s* model,
                           const struct ungulate_options_s* options, ungulate_fint comm,
                           long long batch, long long local_length, int input_size,
                           const float* inputs, int state_size, const float* initial_state,
                           float* states, ungulate_result* result);
int ungulate_solve_mpi_f64(const struct ungulate_model_s* model,
                           const struct ungulate_options_s* options, ungulate_fint comm,
                           long long batch, long long local_length, int input_size,
                           const double* inputs, int state_size, const double* initial_state,
                           double* states, ungulate_result* result);
/* The even split of global_length steps over comm's ranks (the first global_length mod P
 * ranks one step more): this rank's first step and step count. */
int ungulate_mpi_slice(ungulate_fint comm, long long global_length, long long* first_step,
                       long long* local_length);

/* ---- results -------------------------------------------------------------------------- */

void ungulate_result_free(ungulate_result result);
/* An ungulate_status value. */
int ungulate_result_status(const struct ungulate_result_s* result, int* status);
/* The method that ran ("seq", "quasi-deer", ...; with "auto" the one it chose). */
int ungulate_result_method(const struct ungulate_result_s* result, const char** method);
int ungulate_result_iterations(const struct ungulate_result_s* result, int* iterations);
/* max_t |s_t - f(s_{t-1}, x_t)| of the returned states (over all ranks). */
int ungulate_result_residual(const struct ungulate_result_s* result, double* residual);
/* An ungulate_fallback value, and the iteration after which it was taken (0: none). */
int ungulate_result_fallback(const struct ungulate_result_s* result, int* fallback, int* iteration);
/* Largest Lyapunov exponent estimate per step (< 0 predictable); NaN when not estimated. */
int ungulate_result_lle(const struct ungulate_result_s* result, double* lle);
/* Wall time of the solve in seconds. */
int ungulate_result_seconds(const struct ungulate_result_s* result, double* seconds);
/* The iteration history: one record per Newton-type iteration (none for "seq").  count
 * receives the number of records.  ungulate_result_history copies min(capacity, count)
 * records into each non-NULL array: residual (of the iterate the step started from), update
 * (max_t |s^(i+1)_t - s^(i)_t|), seconds (since the solve started), lambda (the step's
 * largest trust-region lambda, 0 when undamped); *written (may be NULL) gets the number. */
int ungulate_result_history_count(const struct ungulate_result_s* result, int* count);
int ungulate_result_history(const struct ungulate_result_s* result, int capacity, double* residual,
                            double* update, double* seconds, double* lambda, int* written);

/* ---- gradients ------------------------------------------------------------------------ */

/* The model's weights as gradients report them: blocks named as the model's HDF5 datasets
 * (GRU input_kernel, recurrent_kernel, input_bias, recurrent_bias; LSTM weight_ih, weight_hh,
 * bias_ih, bias_hh; Lorenz-96 one block "F" of 1 value, dt is not differentiated), one after
 * another, each row-major in its dataset's shape.  Need ungulate_initialize(). */
#define UNGULATE_MAX_PARAMETER_RANK 4
/* The total number of values (the length of grad_weights). */
int ungulate_model_parameter_count(const struct ungulate_model_s* model, long long* count);
int ungulate_model_parameter_block_count(const struct ungulate_model_s* model, int* count);
/* Block index (0-based): name (owned by the model), offset of its first value in grad_weights,
 * size (values), rank and shape (capacity UNGULATE_MAX_PARAMETER_RANK).  Any output may be
 * NULL. */
int ungulate_model_parameter_block(const struct ungulate_model_s* model, int index,
                                   const char** name, long long* offset, long long* size, int* rank,
                                   long long* shape);

/* Gradients of a loss L(s_1 .. s_T) by the adjoint (reverse) scan (docs/gradients.md): given
 * the trajectory states (batch, length, state_size), for instance from ungulate_solve_*, and
 * the cotangent dL/ds_t of every step (batch, length, state_size), computes
 *   grad_inputs (batch, length, input_size):  dL/dx_t,
 *   grad_initial_state (batch, state_size):    dL/ds_0,
 *   grad_weights (ungulate_model_parameter_count values, double): dL/d(weight), summed over
 *                                              the batch and the steps,
 * each skipped when NULL.  inputs and initial_state (NULL: zeros) are those of the solve.  The
 * gradient is exact for the states given (the dense Jacobian; no approximation).  options may
 * be NULL; only the chunk count is read.  Returns UNGULATE_ERROR_NOT_FINITE when the adjoint
 * overflowed (the outputs are written nevertheless). */
int ungulate_gradient_f32(const struct ungulate_model_s* model,
                          const struct ungulate_options_s* options, long long batch,
                          long long length, int input_size, const float* inputs, int state_size,
                          const float* initial_state, const float* states, const float* cotangent,
                          float* grad_inputs, float* grad_initial_state, double* grad_weights);
int ungulate_gradient_f64(const struct ungulate_model_s* model,
                          const struct ungulate_options_s* options, long long batch,
                          long long length, int input_size, const double* inputs, int state_size,
                          const double* initial_state, const double* states,
                          const double* cotangent, double* grad_inputs, double* grad_initial_state,
                          double* grad_weights);
/* The same across the ranks of comm, slices as for ungulate_solve_mpi_*: each rank passes its
 * slice of inputs, states and cotangent and gets its slice of grad_inputs.  initial_state is
 * read on rank 0 only; grad_initial_state and grad_weights (summed over the ranks) are the
 * same on every rank.  Collective; every rank returns the same code. */
int ungulate_gradient_mpi_f32(const struct ungulate_model_s* model,
                              const struct ungulate_options_s* options, ungulate_fint comm,
                              long long batch, long long local_length, int input_size,
                              const float* inputs, int state_size, const float* initial_state,
                              const float* states, const float* cotangent, float* grad_inputs,
                              float* grad_initial_state, double* grad_weights);
int ungulate_gradient_mpi_f64(const struct ungulate_model_s* model,
                              const struct ungulate_options_s* options, ungulate_fint comm,
                              long long batch, long long local_length, int input_size,
                              const double* inputs, int state_size, const double* initial_state,
                              const double* states, const double* cotangent, double* grad_inputs,
                              double* grad_initial_state, double* grad_weights);

#ifdef __cplusplus
}
#endif

#endif /* UNGULATE_UNGULATE_H */
