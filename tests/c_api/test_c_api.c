/* Unit test of the C API (include/ungulate/ungulate.h), in C99.  Runs alone or under mpirun
 * (the MPI part then checks uneven slices and that a bad argument on one rank fails all).
 * Prints each failed check and exits 1 if any failed. */
#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ungulate/ungulate.h>

static int failures = 0;
static int rank = 0, ranks = 1;

#define EXPECT(cond)                                                                          \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      ++failures;                                                                             \
      fprintf(stderr, "[rank %d] %s:%d: check failed: %s (last error: %s)\n", rank, __FILE__, \
              __LINE__, #cond, ungulate_last_error());                                        \
    }                                                                                         \
  } while (0)
#define EXPECT_CODE(call, code) EXPECT((call) == (code))
#define EXPECT_OK(call) EXPECT_CODE(call, UNGULATE_OK)
#define EXPECT_MESSAGE(text) EXPECT(strstr(ungulate_last_error(), (text)) != NULL)

static unsigned long long rng_state = 88172645463325252ULL;
static double uniform(void) { /* [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

enum { H = 4, I = 3, B = 2 };
static const long long T = 300;

/* Random GRU weights with kernels ~ 1/sqrt(fan-in): predictable, every method converges. */
static void random_gru_weights(double* wi, double* wh, double* bi, double* bh) {
  for (int k = 0; k < 3 * H * I; ++k) wi[k] = uniform() / sqrt((double)I);
  for (int k = 0; k < 3 * H * H; ++k) wh[k] = uniform() / sqrt((double)H);
  for (int k = 0; k < 3 * H; ++k) {
    bi[k] = 0.1 * uniform();
    bh[k] = 0.1 * uniform();
  }
}

static ungulate_model random_gru(void) {
  double wi[3 * H * I], wh[3 * H * H], bi[3 * H], bh[3 * H];
  random_gru_weights(wi, wh, bi, bh);
  ungulate_model m = NULL;
  EXPECT_OK(ungulate_model_gru(H, I, wi, wh, bi, bh, &m));
  return m;
}

static double max_diff_d(const double* a, const double* b, long long n) {
  double e = 0;
  for (long long k = 0; k < n; ++k) e = fmax(e, fabs(a[k] - b[k]));
  return e;
}
static double max_diff_f(const float* a, const float* b, long long n) {
  double e = 0;
  for (long long k = 0; k < n; ++k) e = fmax(e, fabs((double)a[k] - (double)b[k]));
  return e;
}

static const char* methods[] = {"deer", "quasi-deer", "elk", "quasi-elk", "auto"};
enum { NUM_METHODS = 5 };

/* Before ungulate_initialize / MPI_Init. */
static void test_before_initialize(void) {
  EXPECT(ungulate_is_initialized() == 0);
  EXPECT(strcmp(ungulate_last_error(), "") == 0);
  ungulate_model m = random_gru(); /* models need no Kokkos */
  double x[B * 5 * I] = {0}, s[B * 5 * H];
  EXPECT_CODE(ungulate_solve_f64(m, NULL, B, 5, I, x, H, NULL, s, NULL),
              UNGULATE_ERROR_NOT_INITIALIZED);
  EXPECT_MESSAGE("ungulate_solve_f64");
  EXPECT_MESSAGE("ungulate_initialize");
  long long count = -1;
  EXPECT_CODE(ungulate_model_parameter_count(m, &count), UNGULATE_ERROR_NOT_INITIALIZED);
  ungulate_model loaded = NULL;
  EXPECT_CODE(ungulate_model_load("nowhere.h5", NULL, 0, &loaded), UNGULATE_ERROR_MPI);
  EXPECT_MESSAGE("MPI is not initialised");
  EXPECT(loaded == NULL);
  ungulate_model_free(m);
}

static void test_methods_against_seq(void) {
  ungulate_model m = random_gru();
  const long long nx = B * T * I, ns = B * T * H;
  double* xd = malloc(sizeof(double) * nx);
  float* xf = malloc(sizeof(float) * nx);
  double *refd = malloc(sizeof(double) * ns), *outd = malloc(sizeof(double) * ns);
  float *reff = malloc(sizeof(float) * ns), *outf = malloc(sizeof(float) * ns);
  double s0d[B * H];
  float s0f[B * H];
  for (long long k = 0; k < nx; ++k) xf[k] = (float)(xd[k] = uniform());
  for (int k = 0; k < B * H; ++k) s0f[k] = (float)(s0d[k] = 0.5 * uniform());

  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  ungulate_result r = NULL;
  EXPECT_OK(ungulate_solve_f64(m, o, B, T, I, xd, H, s0d, refd, &r));
  int count = -1, status = -1;
  EXPECT_OK(ungulate_result_history_count(r, &count));
  EXPECT(count == 0);
  const char* name = NULL;
  EXPECT_OK(ungulate_result_method(r, &name));
  EXPECT(name != NULL && strcmp(name, "seq") == 0);
  ungulate_result_free(r);
  EXPECT_OK(ungulate_solve_f32(m, o, B, T, I, xf, H, s0f, reff, NULL));

  for (int k = 0; k < NUM_METHODS; ++k) {
    EXPECT_OK(ungulate_options_set_method(o, methods[k]));
    r = NULL;
    EXPECT_OK(ungulate_solve_f64(m, o, B, T, I, xd, H, s0d, outd, &r));
    EXPECT_OK(ungulate_result_status(r, &status));
    EXPECT(status == UNGULATE_STATUS_CONVERGED);
    const double ed = max_diff_d(outd, refd, ns);
    if (!(ed < 1e-6)) fprintf(stderr, "%s double: error %g\n", methods[k], ed);
    EXPECT(ed < 1e-6);
    ungulate_result_free(r);

    r = NULL;
    EXPECT_OK(ungulate_solve_f32(m, o, B, T, I, xf, H, s0f, outf, &r));
    EXPECT_OK(ungulate_result_status(r, &status));
    EXPECT(status == UNGULATE_STATUS_CONVERGED);
    const double ef = max_diff_f(outf, reff, ns);
    if (!(ef < 2e-3)) fprintf(stderr, "%s float: error %g\n", methods[k], ef);
    EXPECT(ef < 2e-3);
    ungulate_result_free(r);
  }
  /* The other options are accepted and lead to the same answer. */
  EXPECT_OK(ungulate_options_set_method(o, "elk"));
  EXPECT_OK(ungulate_options_set_trust_region(o, "fixed"));
  EXPECT_OK(ungulate_options_set_lambda(o, 0.1));
  EXPECT_OK(ungulate_options_set_elk_estimate(o, "filter"));
  EXPECT_OK(ungulate_options_set_init(o, "warm"));
  EXPECT_OK(ungulate_options_set_fallback(o, 0));
  EXPECT_OK(ungulate_options_set_chunks(o, 3));
  EXPECT_OK(ungulate_options_set_max_iterations(o, 1000));
  EXPECT_OK(ungulate_options_set_tolerance(o, 1e-9));
  EXPECT_OK(ungulate_solve_f64(m, o, B, T, I, xd, H, s0d, outd, NULL));
  EXPECT(max_diff_d(outd, refd, ns) < 1e-7);
  /* init "given": starting from the answer, quasi-DEER stops at once. */
  EXPECT_OK(ungulate_options_set_method(o, "quasi-deer"));
  EXPECT_OK(ungulate_options_set_init(o, "given"));
  memcpy(outd, refd, sizeof(double) * ns);
  r = NULL;
  EXPECT_OK(ungulate_solve_f64(m, o, B, T, I, xd, H, s0d, outd, &r));
  int iterations = -1;
  EXPECT_OK(ungulate_result_iterations(r, &iterations));
  EXPECT(iterations <= 1);
  EXPECT(max_diff_d(outd, refd, ns) < 1e-9);
  ungulate_result_free(r);

  ungulate_options_free(o);
  ungulate_model_free(m);
  free(xd);
  free(xf);
  free(refd);
  free(outd);
  free(reff);
  free(outf);
}

/* A workspace kept across solves changes no result; a freed one is refused. */
static void test_workspace(void) {
  ungulate_model m = random_gru();
  const long long nx = B * T * I, ns = B * T * H;
  double* xd = malloc(sizeof(double) * nx);
  float* xf = malloc(sizeof(float) * nx);
  double *own_d = malloc(sizeof(double) * ns), *kept_d = malloc(sizeof(double) * ns);
  float *own_f = malloc(sizeof(float) * ns), *kept_f = malloc(sizeof(float) * ns);
  for (long long k = 0; k < nx; ++k) xf[k] = (float)(xd[k] = uniform());

  ungulate_workspace w = NULL;
  long long bytes = -1;
  EXPECT_OK(ungulate_workspace_create(&w));
  EXPECT_OK(ungulate_workspace_bytes(w, &bytes));
  EXPECT(bytes == 0);
  ungulate_options own = NULL, kept = NULL;
  EXPECT_OK(ungulate_options_create(&own));
  EXPECT_OK(ungulate_options_create(&kept));
  EXPECT_OK(ungulate_options_set_workspace(kept, w));
  for (int k = 0; k < NUM_METHODS; ++k)
    for (int pass = 0; pass < 2; ++pass) { /* the second reuses the workspace */
      EXPECT_OK(ungulate_options_set_method(own, methods[k]));
      EXPECT_OK(ungulate_options_set_method(kept, methods[k]));
      EXPECT_OK(ungulate_solve_f64(m, own, B, T, I, xd, H, NULL, own_d, NULL));
      EXPECT_OK(ungulate_solve_f64(m, kept, B, T, I, xd, H, NULL, kept_d, NULL));
      EXPECT(memcmp(own_d, kept_d, sizeof(double) * ns) == 0);
      EXPECT_OK(ungulate_solve_f32(m, own, B, T, I, xf, H, NULL, own_f, NULL));
      EXPECT_OK(ungulate_solve_f32(m, kept, B, T, I, xf, H, NULL, kept_f, NULL));
      EXPECT(memcmp(own_f, kept_f, sizeof(float) * ns) == 0);
    }
  EXPECT_OK(ungulate_workspace_bytes(w, &bytes));
  /* At least the next iterate of both precisions. */
  EXPECT(bytes >= (long long)(sizeof(double) + sizeof(float)) * ns);

  ungulate_workspace_free(w);
  EXPECT_CODE(ungulate_solve_f64(m, kept, B, T, I, xd, H, NULL, kept_d, NULL),
              UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("workspace was freed");
  EXPECT_CODE(ungulate_options_set_workspace(kept, w), UNGULATE_ERROR_INVALID_ARGUMENT);
  ungulate_workspace_free(w); /* twice: nothing happens */
  EXPECT_OK(ungulate_options_set_workspace(kept, NULL));
  EXPECT_OK(ungulate_solve_f64(m, kept, B, T, I, xd, H, NULL, kept_d, NULL));
  EXPECT_CODE(ungulate_workspace_create(NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_workspace_bytes(NULL, &bytes), UNGULATE_ERROR_NULL_POINTER);

  ungulate_options_free(own);
  ungulate_options_free(kept);
  ungulate_model_free(m);
  free(xd);
  free(xf);
  free(own_d);
  free(kept_d);
  free(own_f);
  free(kept_f);
}

/* A workspace holding memory when ungulate_finalize runs (Kokkos frees it first). */
static ungulate_workspace used_workspace(void) {
  ungulate_model m = random_gru();
  double* x = calloc((size_t)(B * T * I), sizeof(double));
  double* s = malloc(sizeof(double) * B * T * H);
  ungulate_workspace w = NULL;
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_workspace_create(&w));
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_workspace(o, w));
  EXPECT_OK(ungulate_solve_f64(m, o, B, T, I, x, H, NULL, s, NULL));
  long long bytes = 0;
  EXPECT_OK(ungulate_workspace_bytes(w, &bytes));
  EXPECT(bytes > 0);
  ungulate_options_free(o);
  ungulate_model_free(m);
  free(x);
  free(s);
  return w;
}

static void test_other_cells(void) {
  /* LSTM and Lorenz-96 built from arrays, quasi-DEER against seq in double. */
  double wih[4 * H * I], whh[4 * H * H], bih[4 * H], bhh[4 * H];
  for (int k = 0; k < 4 * H * I; ++k) wih[k] = uniform() / sqrt((double)I);
  for (int k = 0; k < 4 * H * H; ++k) whh[k] = uniform() / sqrt((double)H);
  for (int k = 0; k < 4 * H; ++k) bih[k] = bhh[k] = 0.1 * uniform();
  ungulate_model models[2] = {NULL, NULL};
  EXPECT_OK(ungulate_model_lstm(H, I, wih, whh, bih, bhh, &models[0]));
  EXPECT_OK(ungulate_model_lorenz96(6, 2.0, 0.01, &models[1]));
  const char* names[2] = {"lstm", "lorenz96"};
  for (int c = 0; c < 2; ++c) {
    int D = 0, In = 0;
    const char* name = NULL;
    EXPECT_OK(ungulate_model_state_size(models[c], &D));
    EXPECT_OK(ungulate_model_input_size(models[c], &In));
    EXPECT_OK(ungulate_model_cell(models[c], &name));
    EXPECT(name != NULL && strcmp(name, names[c]) == 0);
    EXPECT(D == (c == 0 ? 2 * H : 6) && In == (c == 0 ? I : 6));
    const long long n = 100;
    double* x = malloc(sizeof(double) * B * n * In);
    double* ref = malloc(sizeof(double) * B * n * D);
    double* out = malloc(sizeof(double) * B * n * D);
    for (long long k = 0; k < B * n * In; ++k) x[k] = 0.1 * uniform();
    ungulate_options o = NULL;
    EXPECT_OK(ungulate_options_create(&o));
    EXPECT_OK(ungulate_options_set_method(o, "seq"));
    EXPECT_OK(ungulate_solve_f64(models[c], o, B, n, In, x, D, NULL, ref, NULL));
    EXPECT_OK(ungulate_options_set_method(o, "quasi-deer"));
    EXPECT_OK(ungulate_solve_f64(models[c], o, B, n, In, x, D, NULL, out, NULL));
    EXPECT(max_diff_d(out, ref, B * n * D) < 1e-6);
    ungulate_options_free(o);
    free(x);
    free(ref);
    free(out);
    ungulate_model_free(models[c]);
  }
}

static void test_errors(void) {
  ungulate_model m = random_gru();
  double w[3 * H * H] = {0};
  ungulate_model bad = NULL;
  /* Models */
  EXPECT_CODE(ungulate_model_gru(H, I, NULL, w, w, w, &bad), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("ungulate_model_gru: input_kernel is NULL");
  EXPECT(bad == NULL);
  EXPECT_CODE(ungulate_model_gru(H, I, w, w, w, w, NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_model_gru(0, I, w, w, w, w, &bad), UNGULATE_ERROR_INVALID_ARGUMENT);
  w[2] = NAN;
  EXPECT_CODE(ungulate_model_gru(H, 1, w, w, w, w, &bad), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("NaN");
  w[2] = 0;
  EXPECT_CODE(ungulate_model_lstm(H, I, w, NULL, w, w, &bad), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("weight_hh");
  EXPECT_CODE(ungulate_model_lorenz96(0, 8, 0.01, &bad), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_model_lorenz96(8, 8, -1, &bad), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_model_state_size(NULL, NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_model_input_size(m, NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_model_load(NULL, NULL, MPI_Comm_c2f(MPI_COMM_WORLD), &bad),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_model_load("/nonexistent/model.h5", NULL, MPI_Comm_c2f(MPI_COMM_SELF), &bad),
              UNGULATE_ERROR_IO);
  EXPECT_MESSAGE("/nonexistent/model.h5");
  EXPECT(bad == NULL);

  /* Options */
  ungulate_options o = NULL;
  EXPECT_CODE(ungulate_options_create(NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_CODE(ungulate_options_set_method(o, "quasi_deer"), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("ungulate_options_set_method: unknown method 'quasi_deer'");
  EXPECT_MESSAGE("quasi-deer");
  EXPECT_CODE(ungulate_options_set_method(o, NULL), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_options_set_method(NULL, "seq"), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("options is NULL");
  EXPECT_CODE(ungulate_options_set_tolerance(o, 0), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_options_set_tolerance(o, NAN), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_options_set_lambda(o, -1), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_options_set_lambda(o, INFINITY), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_options_set_trust_region(o, "wide"), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("adaptive, fixed");
  EXPECT_CODE(ungulate_options_set_elk_estimate(o, "kalman"), UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_options_set_init(o, "ones"), UNGULATE_ERROR_INVALID_ARGUMENT);

  /* Solves */
  const long long n = 10;
  double x[B * 10 * I] = {0}, s[B * 10 * H];
  float xf[B * 10 * I] = {0}, sf[B * 10 * H];
  ungulate_result r = (ungulate_result)1; /* set to NULL on failure */
  EXPECT_CODE(ungulate_solve_f64(NULL, o, B, n, I, x, H, NULL, s, &r), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("ungulate_solve_f64: model is NULL");
  EXPECT(r == NULL);
  EXPECT_CODE(ungulate_solve_f64(m, o, B, n, I, NULL, H, NULL, s, NULL),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("inputs is NULL");
  EXPECT_CODE(ungulate_solve_f32(m, o, B, n, I, xf, H, NULL, NULL, NULL),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("ungulate_solve_f32: states is NULL");
  EXPECT_CODE(ungulate_solve_f64(m, o, B, n, I + 1, x, H, NULL, s, NULL),
              UNGULATE_ERROR_SIZE_MISMATCH);
  EXPECT_MESSAGE("input_size 4 is not the model's 3");
  EXPECT_CODE(ungulate_solve_f32(m, o, B, n, I, xf, H - 1, NULL, sf, NULL),
              UNGULATE_ERROR_SIZE_MISMATCH);
  EXPECT_MESSAGE("state_size 3 is not the model's 4");
  EXPECT_CODE(ungulate_solve_f64(m, o, 0, n, I, x, H, NULL, s, NULL),
              UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_CODE(ungulate_solve_f64(m, o, B, 0, I, x, H, NULL, s, NULL),
              UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("length must be >= 1");
  /* NULL options: the defaults. */
  EXPECT_OK(ungulate_solve_f32(m, NULL, B, n, I, xf, H, NULL, sf, NULL));

  /* Results */
  int v = 0;
  double d = 0;
  EXPECT_CODE(ungulate_result_status(NULL, &v), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("ungulate_result_status: result is NULL");
  EXPECT_CODE(ungulate_result_residual(NULL, &d), UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_result_history(NULL, 1, &d, NULL, NULL, NULL, NULL),
              UNGULATE_ERROR_NULL_POINTER);

  /* Error strings */
  EXPECT(strcmp(ungulate_error_string(UNGULATE_ERROR_SIZE_MISMATCH), "size mismatch") == 0);
  EXPECT(strcmp(ungulate_error_string(12345), "unknown error code") == 0);
  EXPECT(strcmp(ungulate_error_string(UNGULATE_OK), "no error") == 0);

  ungulate_options_free(o);
  ungulate_model_free(m);
  ungulate_model_free(NULL); /* no-ops */
  ungulate_options_free(NULL);
  ungulate_result_free(NULL);
}

static void test_history(void) {
  ungulate_model m = random_gru();
  const long long n = 200;
  double* x = malloc(sizeof(double) * B * n * I);
  double* s = malloc(sizeof(double) * B * n * H);
  for (long long k = 0; k < B * n * I; ++k) x[k] = uniform();
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "deer"));
  ungulate_result r = NULL;
  EXPECT_OK(ungulate_solve_f64(m, o, B, n, I, x, H, NULL, s, &r));
  int count = 0, iterations = 0, written = -1, fallback = -1, at = -1;
  double residual = -1, seconds = -1, lle = 0;
  EXPECT_OK(ungulate_result_history_count(r, &count));
  EXPECT_OK(ungulate_result_iterations(r, &iterations));
  EXPECT_OK(ungulate_result_residual(r, &residual));
  EXPECT_OK(ungulate_result_seconds(r, &seconds));
  EXPECT_OK(ungulate_result_fallback(r, &fallback, &at));
  EXPECT_OK(ungulate_result_lle(r, &lle));
  EXPECT(count >= 2 && count == iterations);
  EXPECT(residual >= 0 && residual <= 1e-7);
  EXPECT(seconds >= 0);
  EXPECT(fallback == UNGULATE_FALLBACK_NONE && at == 0);
  if (count >= 2) {
    double* res = malloc(sizeof(double) * count);
    double* upd = malloc(sizeof(double) * count);
    double* sec = malloc(sizeof(double) * count);
    EXPECT_OK(ungulate_result_history(r, count, res, upd, sec, NULL, &written));
    EXPECT(written == count);
    EXPECT(res[0] > res[count - 1]); /* the residual falls */
    EXPECT(res[0] > 1e-3);           /* zeros are far from the answer */
    EXPECT(sec[count - 1] >= sec[0]);
    for (int k = 0; k < count; ++k) EXPECT(upd[k] >= 0);
    /* A smaller buffer gets the first records. */
    double first = -1;
    EXPECT_OK(ungulate_result_history(r, 1, &first, NULL, NULL, NULL, &written));
    EXPECT(written == 1 && first == res[0]);
    EXPECT_CODE(ungulate_result_history(r, -1, NULL, NULL, NULL, NULL, NULL),
                UNGULATE_ERROR_INVALID_ARGUMENT);
    free(res);
    free(upd);
    free(sec);
  }
  ungulate_result_free(r);
  ungulate_options_free(o);
  ungulate_model_free(m);
  free(x);
  free(s);
}

/* Under MPI: uneven slices against a single-process sequential reference. */
static void test_mpi(void) {
  const ungulate_fint comm = MPI_Comm_c2f(MPI_COMM_WORLD);
  ungulate_model m = random_gru(); /* the same on every rank: the same generator state */
  long long total = 0, first = 0;
  long long local = 0;
  /* rank r owns 40 + 17 r steps */
  for (int q = 0; q < ranks; ++q) {
    const long long nq = 40 + 17 * q;
    if (q < rank) first += nq;
    if (q == rank) local = nq;
    total += nq;
  }
  double* x = malloc(sizeof(double) * B * total * I);
  double* ref = malloc(sizeof(double) * B * total * H);
  double* xs = malloc(sizeof(double) * B * local * I);
  double* out = malloc(sizeof(double) * B * local * H);
  float* xf = malloc(sizeof(float) * B * local * I);
  float* outf = malloc(sizeof(float) * B * local * H);
  double s0[B * H];
  float s0f[B * H];
  for (long long k = 0; k < B * total * I; ++k) x[k] = uniform();
  for (int k = 0; k < B * H; ++k) s0f[k] = (float)(s0[k] = 0.3 * uniform());
  for (int b = 0; b < B; ++b)
    for (long long t = 0; t < local; ++t)
      for (int i = 0; i < I; ++i)
        xf[(b * local + t) * I + i] =
            (float)(xs[(b * local + t) * I + i] = x[(b * total + first + t) * I + i]);
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, total, I, x, H, s0, ref, NULL));
  for (int k = 0; k < NUM_METHODS; ++k) {
    EXPECT_OK(ungulate_options_set_method(o, methods[k]));
    ungulate_result r = NULL;
    EXPECT_OK(
        ungulate_solve_mpi_f64(m, o, comm, B, local, I, xs, H, rank == 0 ? s0 : NULL, out, &r));
    int status = -1;
    EXPECT_OK(ungulate_result_status(r, &status));
    EXPECT(status == UNGULATE_STATUS_CONVERGED);
    double e = 0;
    for (int b = 0; b < B; ++b)
      for (long long t = 0; t < local; ++t)
        for (int i = 0; i < H; ++i)
          e = fmax(e, fabs(out[(b * local + t) * H + i] - ref[(b * total + first + t) * H + i]));
    if (!(e < 1e-6)) fprintf(stderr, "[rank %d] mpi %s double: error %g\n", rank, methods[k], e);
    EXPECT(e < 1e-6);
    ungulate_result_free(r);
    EXPECT_OK(ungulate_solve_mpi_f32(m, o, comm, B, local, I, xf, H, s0f, outf, NULL));
    e = 0;
    for (int b = 0; b < B; ++b)
      for (long long t = 0; t < local; ++t)
        for (int i = 0; i < H; ++i)
          e = fmax(e, fabs(outf[(b * local + t) * H + i] - ref[(b * total + first + t) * H + i]));
    if (!(e < 2e-3)) fprintf(stderr, "[rank %d] mpi %s float: error %g\n", rank, methods[k], e);
    EXPECT(e < 2e-3);
  }
  /* The library's own split. */
  long long f = -1, l = -1;
  EXPECT_OK(ungulate_mpi_slice(comm, 10, &f, &l));
  EXPECT(l == 10 / ranks + (rank < 10 % ranks ? 1 : 0));
  EXPECT_CODE(ungulate_mpi_slice(comm, 10, NULL, &l), UNGULATE_ERROR_NULL_POINTER);

  /* A bad argument on the last rank fails every rank with its message. */
  const int last = ranks - 1;
  EXPECT_CODE(
      ungulate_solve_mpi_f64(m, o, comm, B, local, rank == last ? I + 1 : I, xs, H, s0, out, NULL),
      UNGULATE_ERROR_SIZE_MISMATCH);
  EXPECT_MESSAGE("input_size 4 is not the model's 3");
  if (ranks > 1) {
    if (rank != last) EXPECT_MESSAGE("(on rank");
    /* Batch sizes that differ between ranks. */
    EXPECT_CODE(
        ungulate_solve_mpi_f64(m, o, comm, rank == 0 ? 1 : B, local, I, xs, H, s0, out, NULL),
        UNGULATE_ERROR_SIZE_MISMATCH);
    EXPECT_MESSAGE("batch differs between ranks");
    /* An empty slice before a non-empty one. */
    EXPECT_CODE(
        ungulate_solve_mpi_f64(m, o, comm, B, rank == 0 ? 0 : local, I, xs, H, s0, out, NULL),
        UNGULATE_ERROR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("empty slices must come last");
    /* Empty slices at the end are fine. */
    EXPECT_OK(ungulate_options_set_method(o, "quasi-deer"));
    if (rank == 0) {
      double* out0 = malloc(sizeof(double) * B * total * H);
      EXPECT_OK(ungulate_solve_mpi_f64(m, o, comm, B, total, I, x, H, s0, out0, NULL));
      EXPECT(max_diff_d(out0, ref, B * total * H) < 1e-6);
      free(out0);
    } else {
      EXPECT_OK(ungulate_solve_mpi_f64(m, o, comm, B, 0, I, NULL, H, NULL, NULL, NULL));
    }
  }
  EXPECT_CODE(
      ungulate_solve_mpi_f64(m, o, MPI_Comm_c2f(MPI_COMM_NULL), B, local, I, xs, H, s0, out, NULL),
      UNGULATE_ERROR_MPI);
  ungulate_options_free(o);
  ungulate_model_free(m);
  free(x);
  free(ref);
  free(xs);
  free(out);
  free(xf);
  free(outf);
}

/* Solves from two threads at once (the library serialises them); errors stay per thread.
 * Kokkos decides whether a thread other than the one that initialised it may launch work:
 * the Serial backend allows it, Kokkos 3's OpenMP backend does not ("uninitialized
 * execution space").  Either way the call must return: the right answer or an error code. */
typedef struct {
  ungulate_model model;
  const double* x;
  const double* ref;
  double* out;
  long long n;
  int code, bad_code;
  double error;
  char message[256], solve_message[256];
} ThreadJob;

static void* thread_solve(void* arg) {
  ThreadJob* job = (ThreadJob*)arg;
  ungulate_options o = NULL;
  ungulate_options_create(&o);
  ungulate_options_set_method(o, "quasi-deer");
  job->code = ungulate_solve_f64(job->model, o, B, job->n, I, job->x, H, NULL, job->out, NULL);
  if (job->code != UNGULATE_OK)
    snprintf(job->solve_message, sizeof job->solve_message, "%s", ungulate_last_error());
  job->error = max_diff_d(job->out, job->ref, B * job->n * H);
  job->bad_code = ungulate_options_set_method(o, "thread-method");
  snprintf(job->message, sizeof job->message, "%s", ungulate_last_error());
  ungulate_options_free(o);
  return NULL;
}

static void test_threads(void) {
  ungulate_model m = random_gru();
  const long long n = 500;
  double* x = malloc(sizeof(double) * B * n * I);
  double* ref = malloc(sizeof(double) * B * n * H);
  double* out[2] = {malloc(sizeof(double) * B * n * H), malloc(sizeof(double) * B * n * H)};
  for (long long k = 0; k < B * n * I; ++k) x[k] = uniform();
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, n, I, x, H, NULL, ref, NULL));
  EXPECT_CODE(ungulate_options_set_method(o, "main-method"), UNGULATE_ERROR_INVALID_ARGUMENT);
  ThreadJob jobs[2];
  pthread_t threads[2];
  for (int k = 0; k < 2; ++k) {
    jobs[k].model = m;
    jobs[k].x = x;
    jobs[k].ref = ref;
    jobs[k].out = out[k];
    jobs[k].n = n;
    jobs[k].solve_message[0] = '\0';
    EXPECT(pthread_create(&threads[k], NULL, thread_solve, &jobs[k]) == 0);
  }
  for (int k = 0; k < 2; ++k) {
    EXPECT(pthread_join(threads[k], NULL) == 0);
    EXPECT(jobs[k].code == UNGULATE_OK || jobs[k].code == UNGULATE_ERROR_INTERNAL);
    if (jobs[k].code == UNGULATE_OK)
      EXPECT(jobs[k].error < 1e-6);
    else
      printf("test_c_api: a solve from another thread was refused: %s\n", jobs[k].solve_message);
    EXPECT(jobs[k].bad_code == UNGULATE_ERROR_INVALID_ARGUMENT);
    EXPECT(strstr(jobs[k].message, "thread-method") != NULL);
  }
  EXPECT_MESSAGE("main-method"); /* this thread's message is its own */
  ungulate_options_free(o);
  ungulate_model_free(m);
  free(x);
  free(ref);
  free(out[0]);
  free(out[1]);
}

/* A model file written by `ungulate generate --cell lstm --hidden 4 --input-size 3`: loaded
 * collectively, then solved like the others. */
static void test_load(const char* path) {
  ungulate_model m = NULL;
  EXPECT_OK(ungulate_model_load(path, NULL, MPI_Comm_c2f(MPI_COMM_WORLD), &m));
  int D = 0, In = 0;
  const char* name = NULL;
  EXPECT_OK(ungulate_model_cell(m, &name));
  EXPECT(name != NULL && strcmp(name, "lstm") == 0);
  EXPECT_OK(ungulate_model_state_size(m, &D));
  EXPECT_OK(ungulate_model_input_size(m, &In));
  EXPECT(D == 8 && In == 3);
  if (D == 8 && In == 3) {
    const long long n = 50;
    float x[B * 50 * 3], ref[B * 50 * 8], out[B * 50 * 8];
    for (long long k = 0; k < B * n * In; ++k) x[k] = (float)uniform();
    ungulate_options o = NULL;
    EXPECT_OK(ungulate_options_create(&o));
    EXPECT_OK(ungulate_options_set_method(o, "seq"));
    EXPECT_OK(ungulate_solve_f32(m, o, B, n, In, x, D, NULL, ref, NULL));
    EXPECT_OK(ungulate_options_set_method(o, "quasi-elk"));
    EXPECT_OK(ungulate_solve_f32(m, o, B, n, In, x, D, NULL, out, NULL));
    EXPECT(max_diff_f(out, ref, B * n * D) < 2e-3);
    ungulate_options_free(o);
  }
  ungulate_model_free(m);
  /* A group that is not there. */
  ungulate_model missing = NULL;
  EXPECT_CODE(ungulate_model_load(path, "/nothing", MPI_Comm_c2f(MPI_COMM_WORLD), &missing),
              UNGULATE_ERROR_IO);
  EXPECT_MESSAGE("/nothing");
  EXPECT(missing == NULL);
}

/* ---- gradients ---------------------------------------------------------------------------- */

enum { GT = 23 }; /* steps of the gradient checks: short, not a power of two */

/* L = sum_t c_t . s_t of the sequential trajectory (double). */
static double loss(ungulate_model m, const double* x, const double* s0, const double* c,
                   long long length, int input_size, int state_size) {
  const long long n = B * length * state_size;
  double* s = malloc(sizeof(double) * n);
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, length, input_size, x, state_size, s0, s, NULL));
  double l = 0;
  for (long long k = 0; k < n; ++k) l += c[k] * s[k];
  ungulate_options_free(o);
  free(s);
  return l;
}

static int close_to(double value, double expected, double relative) {
  return fabs(value - expected) <= relative * fmax(1.0, fabs(expected));
}

/* GRU in double: dL/dx, dL/ds0 and dL/dW against central finite differences, the weight
 * blocks' layout, float against double, and the error paths. */
static void test_gradient_gru(void) {
  double wi[3 * H * I], wh[3 * H * H], bi[3 * H], bh[3 * H];
  random_gru_weights(wi, wh, bi, bh);
  ungulate_model m = NULL;
  EXPECT_OK(ungulate_model_gru(H, I, wi, wh, bi, bh, &m));
  double x[B * GT * I], s0[B * H], c[B * GT * H], s[B * GT * H];
  for (int k = 0; k < B * GT * I; ++k) x[k] = uniform();
  for (int k = 0; k < B * H; ++k) s0[k] = 0.5 * uniform();
  for (int k = 0; k < B * GT * H; ++k) c[k] = uniform();
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, GT, I, x, H, s0, s, NULL));

  /* The weight blocks. */
  long long count = -1, offset = -1, size = -1, shape[UNGULATE_MAX_PARAMETER_RANK];
  int blocks = -1, dims = -1;
  const char* name = NULL;
  EXPECT_OK(ungulate_model_parameter_count(m, &count));
  EXPECT(count == 3 * H * I + 3 * H * H + 6 * H);
  EXPECT_OK(ungulate_model_parameter_block_count(m, &blocks));
  EXPECT(blocks == 4);
  EXPECT_OK(ungulate_model_parameter_block(m, 1, &name, &offset, &size, &dims, shape));
  EXPECT(name != NULL && strcmp(name, "recurrent_kernel") == 0);
  EXPECT(offset == 3 * H * I && size == 3 * H * H && dims == 3);
  EXPECT(shape[0] == 3 && shape[1] == H && shape[2] == H);
  EXPECT_OK(ungulate_model_parameter_block(m, 3, &name, &offset, NULL, NULL, NULL));
  EXPECT(strcmp(name, "recurrent_bias") == 0 && offset == 3 * H * I + 3 * H * H + 3 * H);
  EXPECT_CODE(ungulate_model_parameter_block(m, 4, &name, NULL, NULL, NULL, NULL),
              UNGULATE_ERROR_INVALID_ARGUMENT);
  EXPECT_MESSAGE("index 4");

  double gx[B * GT * I], gs0[B * H];
  double* gw = malloc(sizeof(double) * (size_t)count);
  EXPECT_OK(ungulate_gradient_f64(m, NULL, B, GT, I, x, H, s0, s, c, gx, gs0, gw));

  const double eps = 1e-6, tol = 1e-6;
  const double base = loss(m, x, s0, c, GT, I, H);
  (void)base;
  /* Inputs: the first and last step of each sequence, and one in between. */
  const int probes_x[] = {0, I * (GT / 2) + 1, I * (GT - 1) + 2, GT * I + 4, 2 * GT * I - 1};
  for (int p = 0; p < 5; ++p) {
    const int k = probes_x[p];
    const double keep = x[k];
    x[k] = keep + eps;
    const double up = loss(m, x, s0, c, GT, I, H);
    x[k] = keep - eps;
    const double down = loss(m, x, s0, c, GT, I, H);
    x[k] = keep;
    const double fd = (up - down) / (2 * eps);
    if (!close_to(gx[k], fd, tol)) fprintf(stderr, "dL/dx[%d] %.10g, FD %.10g\n", k, gx[k], fd);
    EXPECT(close_to(gx[k], fd, tol));
  }
  for (int k = 0; k < B * H; k += 3) {
    const double keep = s0[k];
    s0[k] = keep + eps;
    const double up = loss(m, x, s0, c, GT, I, H);
    s0[k] = keep - eps;
    const double down = loss(m, x, s0, c, GT, I, H);
    s0[k] = keep;
    const double fd = (up - down) / (2 * eps);
    if (!close_to(gs0[k], fd, tol)) fprintf(stderr, "dL/ds0[%d] %.10g, FD %.10g\n", k, gs0[k], fd);
    EXPECT(close_to(gs0[k], fd, tol));
  }
  /* One weight of each block, perturbed through a new model. */
  double* arrays[4] = {wi, wh, bi, bh};
  const int within[4] = {5, 7, 2, 9};
  for (int blk = 0; blk < 4; ++blk) {
    EXPECT_OK(ungulate_model_parameter_block(m, blk, NULL, &offset, NULL, NULL, NULL));
    double* w = arrays[blk] + within[blk];
    const double keep = *w;
    double l[2];
    for (int side = 0; side < 2; ++side) {
      *w = keep + (side == 0 ? eps : -eps);
      ungulate_model mp = NULL;
      EXPECT_OK(ungulate_model_gru(H, I, wi, wh, bi, bh, &mp));
      l[side] = loss(mp, x, s0, c, GT, I, H);
      ungulate_model_free(mp);
    }
    *w = keep;
    const double fd = (l[0] - l[1]) / (2 * eps), g = gw[offset + within[blk]];
    if (!close_to(g, fd, tol)) fprintf(stderr, "dL/dW block %d: %.10g, FD %.10g\n", blk, g, fd);
    EXPECT(close_to(g, fd, tol));
  }

  /* float: the same gradient to float accuracy (states from a float solve). */
  {
    float xf[B * GT * I], s0f[B * H], cf[B * GT * H], sf[B * GT * H], gxf[B * GT * I];
    for (int k = 0; k < B * GT * I; ++k) xf[k] = (float)x[k];
    for (int k = 0; k < B * H; ++k) s0f[k] = (float)s0[k];
    for (int k = 0; k < B * GT * H; ++k) cf[k] = (float)c[k];
    EXPECT_OK(ungulate_solve_f32(m, o, B, GT, I, xf, H, s0f, sf, NULL));
    double* gwf = malloc(sizeof(double) * (size_t)count);
    EXPECT_OK(ungulate_gradient_f32(m, NULL, B, GT, I, xf, H, s0f, sf, cf, gxf, NULL, gwf));
    double scale = 0, e = 0;
    for (int k = 0; k < B * GT * I; ++k) {
      scale = fmax(scale, fabs(gx[k]));
      e = fmax(e, fabs(gx[k] - (double)gxf[k]));
    }
    EXPECT(e <= 1e-4 * scale);
    scale = e = 0;
    for (long long k = 0; k < count; ++k) {
      scale = fmax(scale, fabs(gw[k]));
      e = fmax(e, fabs(gw[k] - gwf[k]));
    }
    EXPECT(e <= 1e-4 * scale);
    free(gwf);
  }

  /* Only what is asked for is written; the rest may be NULL. */
  EXPECT_OK(ungulate_gradient_f64(m, NULL, B, GT, I, x, H, NULL, s, c, NULL, NULL, NULL));
  /* Errors. */
  EXPECT_CODE(ungulate_gradient_f64(m, NULL, B, GT, I, x, H, s0, s, NULL, gx, gs0, gw),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("cotangent is NULL");
  EXPECT_CODE(ungulate_gradient_f64(m, NULL, B, GT, I, x, H + 1, s0, s, c, gx, gs0, gw),
              UNGULATE_ERROR_SIZE_MISMATCH);
  EXPECT_MESSAGE("ungulate_gradient_f64");
  EXPECT_CODE(ungulate_gradient_f64(NULL, NULL, B, GT, I, x, H, s0, s, c, gx, gs0, gw),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_CODE(ungulate_gradient_f64(m, NULL, 0, GT, I, x, H, s0, s, c, gx, gs0, gw),
              UNGULATE_ERROR_INVALID_ARGUMENT);
  /* An adjoint that overflows is reported, not returned as a number. */
  {
    double huge[B * GT * H];
    for (int k = 0; k < B * GT * H; ++k) huge[k] = 1e308;
    EXPECT_CODE(ungulate_gradient_f64(m, NULL, B, GT, I, x, H, s0, s, huge, gx, gs0, gw),
                UNGULATE_ERROR_NOT_FINITE);
    EXPECT_MESSAGE("not finite");
  }
  free(gw);
  ungulate_options_free(o);
  ungulate_model_free(m);
}

/* Lorenz-96: dL/dF (its one weight) against finite differences. */
static void test_gradient_lorenz96(void) {
  enum { N = 6 };
  const double F = 8.0, dt = 0.01;
  ungulate_model m = NULL;
  EXPECT_OK(ungulate_model_lorenz96(N, F, dt, &m));
  double x[B * GT * N], s0[B * N], c[B * GT * N], s[B * GT * N], gw[1] = {0};
  for (int k = 0; k < B * GT * N; ++k) x[k] = 0.1 * uniform();
  for (int k = 0; k < B * N; ++k) s0[k] = F + uniform();
  for (int k = 0; k < B * GT * N; ++k) c[k] = uniform();
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, GT, N, x, N, s0, s, NULL));
  long long count = 0;
  const char* name = NULL;
  EXPECT_OK(ungulate_model_parameter_count(m, &count));
  EXPECT(count == 1);
  EXPECT_OK(ungulate_model_parameter_block(m, 0, &name, NULL, NULL, NULL, NULL));
  EXPECT(strcmp(name, "F") == 0);
  EXPECT_OK(ungulate_gradient_f64(m, NULL, B, GT, N, x, N, s0, s, c, NULL, NULL, gw));
  const double eps = 1e-6;
  double l[2];
  for (int side = 0; side < 2; ++side) {
    ungulate_model mp = NULL;
    EXPECT_OK(ungulate_model_lorenz96(N, F + (side == 0 ? eps : -eps), dt, &mp));
    l[side] = loss(mp, x, s0, c, GT, N, N);
    ungulate_model_free(mp);
  }
  const double fd = (l[0] - l[1]) / (2 * eps);
  if (!close_to(gw[0], fd, 1e-6)) fprintf(stderr, "dL/dF %.10g, FD %.10g\n", gw[0], fd);
  EXPECT(close_to(gw[0], fd, 1e-6));
  ungulate_options_free(o);
  ungulate_model_free(m);
}

/* Under MPI: the gradient over uneven slices equals the single-process one. */
static void test_gradient_mpi(void) {
  const ungulate_fint comm = MPI_Comm_c2f(MPI_COMM_WORLD);
  ungulate_model m = random_gru();
  long long total = 0, first = 0, local = 0, count = 0;
  for (int q = 0; q < ranks; ++q) { /* rank r owns 9 + 5 r steps */
    const long long nq = 9 + 5 * q;
    if (q < rank) first += nq;
    if (q == rank) local = nq;
    total += nq;
  }
  EXPECT_OK(ungulate_model_parameter_count(m, &count));
  double* x = malloc(sizeof(double) * B * total * I);
  double* s = malloc(sizeof(double) * B * total * H);
  double* c = malloc(sizeof(double) * B * total * H);
  double* gx = malloc(sizeof(double) * B * total * I);
  double* gw = malloc(sizeof(double) * (size_t)count);
  double* xs = malloc(sizeof(double) * B * local * I);
  double* ss = malloc(sizeof(double) * B * local * H);
  double* cs = malloc(sizeof(double) * B * local * H);
  double* gxs = malloc(sizeof(double) * B * local * I);
  double* gws = malloc(sizeof(double) * (size_t)count);
  double s0[B * H], gs0[B * H], gs0s[B * H];
  for (long long k = 0; k < B * total * I; ++k) x[k] = uniform();
  for (long long k = 0; k < B * total * H; ++k) c[k] = uniform();
  for (int k = 0; k < B * H; ++k) s0[k] = 0.3 * uniform();
  ungulate_options o = NULL;
  EXPECT_OK(ungulate_options_create(&o));
  EXPECT_OK(ungulate_options_set_method(o, "seq"));
  EXPECT_OK(ungulate_solve_f64(m, o, B, total, I, x, H, s0, s, NULL));
  EXPECT_OK(ungulate_gradient_f64(m, NULL, B, total, I, x, H, s0, s, c, gx, gs0, gw));
  for (int b = 0; b < B; ++b)
    for (long long t = 0; t < local; ++t) {
      for (int i = 0; i < I; ++i) xs[(b * local + t) * I + i] = x[(b * total + first + t) * I + i];
      for (int i = 0; i < H; ++i) {
        ss[(b * local + t) * H + i] = s[(b * total + first + t) * H + i];
        cs[(b * local + t) * H + i] = c[(b * total + first + t) * H + i];
      }
    }
  EXPECT_OK(ungulate_gradient_mpi_f64(m, NULL, comm, B, local, I, xs, H, rank == 0 ? s0 : NULL, ss,
                                      cs, gxs, gs0s, gws));
  double e = 0, scale = 0;
  for (int b = 0; b < B; ++b)
    for (long long t = 0; t < local; ++t)
      for (int i = 0; i < I; ++i) {
        const double want = gx[(b * total + first + t) * I + i];
        scale = fmax(scale, fabs(want));
        e = fmax(e, fabs(gxs[(b * local + t) * I + i] - want));
      }
  if (!(e <= 1e-10 * scale)) fprintf(stderr, "[rank %d] mpi dL/dx error %g\n", rank, e);
  EXPECT(e <= 1e-10 * scale);
  e = scale = 0;
  for (int k = 0; k < B * H; ++k) {
    scale = fmax(scale, fabs(gs0[k]));
    e = fmax(e, fabs(gs0s[k] - gs0[k]));
  }
  EXPECT(e <= 1e-10 * scale);
  e = scale = 0;
  for (long long k = 0; k < count; ++k) {
    scale = fmax(scale, fabs(gw[k]));
    e = fmax(e, fabs(gws[k] - gw[k]));
  }
  if (!(e <= 1e-10 * scale)) fprintf(stderr, "[rank %d] mpi dL/dW error %g\n", rank, e);
  EXPECT(e <= 1e-10 * scale);
  /* A missing cotangent on one rank fails every rank. */
  EXPECT_CODE(ungulate_gradient_mpi_f64(m, NULL, comm, B, local, I, xs, H, s0, ss,
                                        rank == ranks - 1 ? NULL : cs, gxs, gs0s, gws),
              UNGULATE_ERROR_NULL_POINTER);
  EXPECT_MESSAGE("cotangent is NULL");
  free(x), free(s), free(c), free(gx), free(gw), free(xs), free(ss), free(cs), free(gxs), free(gws);
  ungulate_options_free(o);
  ungulate_model_free(m);
}

/* Usage: test_c_api [MODEL.h5] */
int main(int argc, char** argv) {
  const char* model_path = argc > 1 ? argv[1] : NULL;
  if (argc > 1) argc = 1; /* Kokkos sees no arguments */
  test_before_initialize();
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  EXPECT_OK(ungulate_initialize(&argc, argv));
  EXPECT_OK(ungulate_initialize(NULL, NULL)); /* again: a no-op */
  EXPECT(ungulate_is_initialized() == 1);
  if (ranks == 1) {
    test_methods_against_seq();
    test_workspace();
    test_other_cells();
    test_errors();
    test_history();
    test_threads();
    test_gradient_gru();
    test_gradient_lorenz96();
  }
  test_mpi();
  test_gradient_mpi();
  if (model_path != NULL) test_load(model_path);
  ungulate_workspace kept = ranks == 1 ? used_workspace() : NULL;
  EXPECT_OK(ungulate_finalize());
  EXPECT(ungulate_is_initialized() == 0);
  ungulate_workspace_free(kept); /* its memory went with Kokkos */
  EXPECT_CODE(ungulate_initialize(NULL, NULL), UNGULATE_ERROR_INVALID_ARGUMENT);
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("test_c_api: %d rank(s), %d failed check(s)\n", ranks, total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
