// The C API (include/ungulate/ungulate.h) over the C++ library.  Every entry point catches
// everything: no exception crosses into C.
#include "ungulate/ungulate.h"

#include <mpi.h>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ungulate/core/version.hpp"
#include "ungulate/dist/mpi_decomposition.hpp"
#include "ungulate/io/model.hpp"
#include "ungulate/solvers/gradient.hpp"
#include "ungulate/solvers/solve.hpp"

struct ungulate_model_s {
  explicit ungulate_model_s(ungulate::io::Model m) : model(std::move(m)) {}
  ungulate::io::Model model;
  // The weights' blocks as gradients report them (cells' parameter_blocks()), computed on first
  // use: building a cell needs Kokkos, creating a model does not.
  mutable std::once_flag blocks_once;
  mutable std::vector<ungulate::cells::ParameterBlock> blocks;
};
struct ungulate_workspace_s {
  ungulate::Workspace<float> f32;
  ungulate::Workspace<double> f64;
  template <class Scalar>
  ungulate::Workspace<Scalar>& of() {
    if constexpr (std::is_same_v<Scalar, float>)
      return f32;
    else
      return f64;
  }
  void release() {
    f32.release();
    f64.release();
  }
};
struct ungulate_options_s {
  ungulate::SolverOptions options;
  ungulate_workspace_s* workspace = nullptr;
};
struct ungulate_result_s {
  ungulate::SolveResult result;
};

namespace {

using ungulate::SolveResult;
using ungulate::SolverOptions;
namespace io = ungulate::io;

thread_local std::string last_error;
std::mutex solve_mutex;     // Kokkos execution spaces are not re-entrant from host threads
std::mutex lifetime_mutex;  // initialize / finalize
bool kokkos_ours = false;   // ungulate_initialize() initialised Kokkos
bool kokkos_finalized = false;
// Live workspaces: a solve checks that its options' workspace was not freed, and
// Kokkos::finalize (ours or the caller's) releases their buffers first, since Kokkos memory
// cannot be freed after it.  Lock order: lifetime_mutex, solve_mutex, workspace_mutex.
std::mutex workspace_mutex;
std::set<ungulate_workspace_s*, std::less<>> live_workspaces;
bool workspace_hook_pushed = false;

// A failure with its C error code, thrown inside an entry point and caught at its edge.
struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void raise(int code, const std::string& message) {
  throw Failure{code, message};
}

template <class P>
void need(const P* pointer, const char* name) {
  if (pointer == nullptr) raise(UNGULATE_ERROR_NULL_POINTER, std::string(name) + " is NULL");
}

// Runs `body` (returns nothing, or throws); converts every exception into a code and message.
template <class Body>
int guarded(const char* function, Body&& body) {
  int code = UNGULATE_OK;
  std::string message;
  try {
    body();
    return UNGULATE_OK;
  } catch (const Failure& e) {
    code = e.code;
    message = e.message;
  } catch (const io::Error& e) {
    code = UNGULATE_ERROR_IO;
    message = e.what();
  } catch (const std::bad_alloc&) {
    code = UNGULATE_ERROR_OUT_OF_MEMORY;
    message = "out of memory";
  } catch (const std::invalid_argument& e) {
    code = UNGULATE_ERROR_INVALID_ARGUMENT;
    message = e.what();
  } catch (const std::exception& e) {
    code = UNGULATE_ERROR_INTERNAL;
    message = e.what();
  } catch (...) {
    code = UNGULATE_ERROR_INTERNAL;
    message = "unknown exception";
  }
  try {
    last_error = std::string(function) + ": " + message;
  } catch (...) {
    // No memory for the message: the code still says what happened.
  }
  return code;
}

void need_kokkos() {
  if (!Kokkos::is_initialized())
    raise(UNGULATE_ERROR_NOT_INITIALIZED,
          kokkos_finalized ? "ungulate_finalize() was called" : "call ungulate_initialize() first");
}

MPI_Comm communicator(ungulate_fint handle) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    raise(UNGULATE_ERROR_MPI, "MPI is not initialised (the caller initialises MPI)");
  const MPI_Comm comm = MPI_Comm_f2c(static_cast<MPI_Fint>(handle));
  if (comm == MPI_COMM_NULL) raise(UNGULATE_ERROR_MPI, "the communicator is MPI_COMM_NULL");
  return comm;
}

std::vector<double> copy_array(const double* data, std::size_t n, const char* name) {
  need(data, name);
  std::vector<double> out(data, data + n);
  for (double v : out)
    if (!std::isfinite(v))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT, std::string(name) + " holds NaN or Inf");
  return out;
}

void check_model_sizes(int hidden, int inputs) {
  constexpr int kMax = 65536;  // as the HDF5 readers
  if (hidden < 1 || inputs < 1 || hidden > kMax || inputs > kMax)
    raise(UNGULATE_ERROR_INVALID_ARGUMENT, "sizes must be in 1.." + std::to_string(kMax) +
                                               " (hidden " + std::to_string(hidden) + ", inputs " +
                                               std::to_string(inputs) + ")");
}

bool equals(const char* a, const char* b) {
  return std::strcmp(a, b) == 0;
}

// ---- solving -------------------------------------------------------------------------------

struct Arrays {
  long long batch, length;
  int input_size, state_size;
};

// Checks what one process can check; throws Failure.
void validate(const ungulate_model_s* model, Arrays a, const void* inputs, const void* states,
              bool mpi) {
  need(model, "model");
  if (a.batch < 1) raise(UNGULATE_ERROR_INVALID_ARGUMENT, "batch must be >= 1");
  if (mpi ? a.length < 0 : a.length < 1)
    raise(UNGULATE_ERROR_INVALID_ARGUMENT,
          mpi ? "local_length must be >= 0" : "length must be >= 1");
  const int D = model->model.state_size(), I = model->model.input_size();
  if (a.input_size != I)
    raise(UNGULATE_ERROR_SIZE_MISMATCH, "input_size " + std::to_string(a.input_size) +
                                            " is not the model's " + std::to_string(I));
  if (a.state_size != D)
    raise(UNGULATE_ERROR_SIZE_MISMATCH, "state_size " + std::to_string(a.state_size) +
                                            " is not the model's " + std::to_string(D));
  const double elements = double(a.batch) * double(a.length) * double(std::max(D, I));
  if (elements > double(std::numeric_limits<std::int64_t>::max() / 8))
    raise(UNGULATE_ERROR_SIZE_MISMATCH, "batch * length * size is too large");
  if (a.length > 0) {
    need(inputs, "inputs");
    need(states, "states");
  }
}

template <class Scalar, class Cell, class Decomposition>
SolveResult solve_cell(const Cell& cell, const SolverOptions& options, Arrays a,
                       const Scalar* inputs, const Scalar* s0, Scalar* states, bool read_s0,
                       const Decomposition& decomp, ungulate::Workspace<Scalar>& workspace) {
  using Memory = ungulate::DefaultExecutionSpace::memory_space;
  using In = Kokkos::View<const Scalar***, Kokkos::LayoutRight, Kokkos::HostSpace>;
  using Out = Kokkos::View<Scalar***, Kokkos::LayoutRight, Kokkos::HostSpace>;
  const std::size_t B = std::size_t(a.batch), T = std::size_t(a.length),
                    I = std::size_t(a.input_size), D = std::size_t(a.state_size);
  // Unmanaged views of the caller's arrays (null data is fine at T = 0).
  const In x_host(inputs, B, T, I);
  const Out states_host(states, B, T, D);
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> initial("ungulate::c::s0", B, D);
  if (read_s0 && s0 != nullptr)
    Kokkos::deep_copy(
        initial, Kokkos::View<const Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace>(s0, B, D));
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Memory>::accessible &&
                Kokkos::SpaceAccessibility<Memory, Kokkos::HostSpace>::accessible) {
    // Host backends: solve in place, no copies.
    return ungulate::solve(cell, ungulate::InputsView<Cell>(x_host.data(), B, T, I), initial,
                           ungulate::StatesView<Cell>(states_host.data(), B, T, D), options, decomp,
                           workspace);
  } else {
    Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> x("ungulate::c::inputs", B, T, I);
    Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> s("ungulate::c::states", B, T, D);
    Kokkos::deep_copy(x, x_host);
    if (options.init == ungulate::Initialization::Given) Kokkos::deep_copy(s, states_host);
    const SolveResult r = ungulate::solve(cell, x, initial, s, options, decomp, workspace);
    Kokkos::deep_copy(states_host, s);
    return r;
  }
}

// Calls f(cell) with the model's cell in precision Scalar; returns what f returns.
template <class Scalar, class F>
auto with_cell(const io::Model& model, F&& f) {
  return std::visit(
      [&](const auto& weights) {
        using W = std::decay_t<decltype(weights)>;
        if constexpr (std::is_same_v<W, io::GruWeights>)
          return f(io::make_gru<Scalar>(weights));
        else if constexpr (std::is_same_v<W, io::LstmWeights>)
          return f(io::make_lstm<Scalar>(weights));
        else
          return f(io::make_lorenz96<Scalar>(weights));
      },
      model.cell);
}

// Raises when `workspace` was freed; call with workspace_mutex held.
void require_live(const ungulate_workspace_s* workspace, const char* what) {
  if (live_workspaces.count(workspace) == 0)
    raise(UNGULATE_ERROR_INVALID_ARGUMENT, std::string(what) + " was freed");
}

// Raises when the options name a workspace that was freed.
void check_workspace(const ungulate_options_s* options) {
  if (options == nullptr || options->workspace == nullptr) return;
  std::lock_guard<std::mutex> lock(workspace_mutex);
  require_live(options->workspace, "the options' workspace");
}

// The workspace a solve with `options` uses: the options' own (checked to be alive), or
// `fallback`, one of the solve's own.  Call with solve_mutex held.
template <class Scalar>
ungulate::Workspace<Scalar>& workspace_for(const ungulate_options_s* options,
                                           ungulate::Workspace<Scalar>& fallback) {
  if (options == nullptr || options->workspace == nullptr) return fallback;
  std::lock_guard<std::mutex> lock(workspace_mutex);
  require_live(options->workspace, "the options' workspace");
  if (!workspace_hook_pushed) {
    Kokkos::push_finalize_hook([] {
      std::lock_guard<std::mutex> hook_lock(workspace_mutex);
      for (ungulate_workspace_s* w : live_workspaces) w->release();
      workspace_hook_pushed = false;
    });
    workspace_hook_pushed = true;
  }
  return options->workspace->of<Scalar>();
}

template <class Scalar, class Decomposition>
SolveResult solve_model(const io::Model& model, const ungulate_options_s* options, Arrays a,
                        const Scalar* inputs, const Scalar* s0, Scalar* states, bool read_s0,
                        const Decomposition& decomp) {
  const SolverOptions opt = options ? options->options : SolverOptions();
  ungulate::Workspace<Scalar> own;
  ungulate::Workspace<Scalar>& workspace = workspace_for(options, own);
  return with_cell<Scalar>(model, [&](const auto& cell) {
    return solve_cell(cell, opt, a, inputs, s0, states, read_s0, decomp, workspace);
  });
}

void hand_out(const SolveResult& r, ungulate_result* result) {
  if (result != nullptr) *result = new ungulate_result_s{r};
}

template <class Scalar>
int solve_single(const char* function, const ungulate_model_s* model,
                 const ungulate_options_s* options, Arrays a, const Scalar* inputs,
                 const Scalar* s0, Scalar* states, ungulate_result* result) {
  if (result != nullptr) *result = nullptr;
  return guarded(function, [&] {
    need_kokkos();
    validate(model, a, inputs, states, false);
    check_workspace(options);
    std::lock_guard<std::mutex> lock(solve_mutex);
    hand_out(solve_model(model->model, options, a, inputs, s0, states, true,
                         ungulate::dist::SingleRank()),
             result);
  });
}

// Every rank gets the same code, and the message of the lowest failing rank.
int agree(MPI_Comm comm, int code) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int mine = code == UNGULATE_OK ? size : rank;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return UNGULATE_OK;
  MPI_Bcast(&code, 1, MPI_INT, first, comm);
  std::string message = rank == first ? last_error : std::string();
  int length = int(message.size());
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  message.resize(std::size_t(length));
  MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
  last_error = rank == first ? message : message + " (on rank " + std::to_string(first) + ")";
  return code;
}

// What every collective entry point checks before its work: a communicator, the arguments on
// every rank (validate), and the shapes all ranks must share.  Sets comm; returns a code that
// is the same on every rank once the communicator is known.
int mpi_preamble(const char* function, ungulate_fint comm_handle, const ungulate_model_s* model,
                 Arrays a, const void* inputs, const void* states, MPI_Comm& comm) {
  // A communicator is needed before the ranks can agree on anything: these errors are local.
  int code = guarded(function, [&] {
    need_kokkos();
    comm = communicator(comm_handle);
  });
  if (code != UNGULATE_OK) return code;
  code = agree(comm, guarded(function, [&] { validate(model, a, inputs, states, true); }));
  if (code != UNGULATE_OK) return code;
  return guarded(function, [&] {
    long long mine[3] = {a.batch, a.input_size, a.state_size}, low[3], high[3];
    MPI_Allreduce(mine, low, 3, MPI_LONG_LONG, MPI_MIN, comm);
    MPI_Allreduce(mine, high, 3, MPI_LONG_LONG, MPI_MAX, comm);
    for (int i = 0; i < 3; ++i)
      if (low[i] != high[i])
        raise(UNGULATE_ERROR_SIZE_MISMATCH, std::string(i == 0   ? "batch"
                                                        : i == 1 ? "input_size"
                                                                 : "state_size") +
                                                " differs between ranks (" +
                                                std::to_string(low[i]) + " to " +
                                                std::to_string(high[i]) + ")");
  });
}

// The time slices of the ranks of comm (throws alike on every rank).
ungulate::dist::MpiTimeDecomposition slices(MPI_Comm comm, long long local_length) {
  auto decomp = ungulate::dist::MpiTimeDecomposition::from_local_length(comm, local_length);
  if (decomp.global_length() < 1)
    raise(UNGULATE_ERROR_INVALID_ARGUMENT, "the global length (sum of local_length) is 0");
  return decomp;
}

template <class Scalar>
int solve_mpi(const char* function, const ungulate_model_s* model,
              const ungulate_options_s* options, ungulate_fint comm_handle, Arrays a,
              const Scalar* inputs, const Scalar* s0, Scalar* states, ungulate_result* result) {
  if (result != nullptr) *result = nullptr;
  MPI_Comm comm = MPI_COMM_NULL;
  const int code = mpi_preamble(function, comm_handle, model, a, inputs, states, comm);
  if (code != UNGULATE_OK) return code;
  const int alive = agree(comm, guarded(function, [&] { check_workspace(options); }));
  if (alive != UNGULATE_OK) return alive;
  return guarded(function, [&] {
    const auto decomp = slices(comm, a.length);
    std::lock_guard<std::mutex> lock(solve_mutex);
    hand_out(solve_model(model->model, options, a, inputs, s0, states, decomp.rank() == 0, decomp),
             result);
  });
}

// ---- gradients -----------------------------------------------------------------------------

template <class Scalar>
struct GradientArrays {
  const Scalar* inputs;
  const Scalar* initial_state;
  const Scalar* states;
  const Scalar* cotangent;
  Scalar* grad_inputs;         // may be NULL
  Scalar* grad_initial_state;  // may be NULL
  double* grad_weights;        // may be NULL
};

// Runs ungulate::gradient on the caller's arrays; throws Failure when the adjoint overflowed
// (the outputs are written first).
template <class Scalar, class Cell, class Decomposition>
void gradient_cell(const Cell& cell, const SolverOptions& options, Arrays a,
                   const GradientArrays<Scalar>& g, bool read_s0, const Decomposition& decomp) {
  using Memory = ungulate::DefaultExecutionSpace::memory_space;
  using Host3 = Kokkos::View<const Scalar***, Kokkos::LayoutRight, Kokkos::HostSpace>;
  using View3 = Kokkos::View<const Scalar***, Kokkos::LayoutRight, Memory>;
  const std::size_t B = std::size_t(a.batch), T = std::size_t(a.length),
                    I = std::size_t(a.input_size), D = std::size_t(a.state_size);
  // The caller's arrays as views of the execution space's memory (copies on a device only).
  const auto in_memory = [&](const Scalar* data, std::size_t n) -> View3 {
    const Host3 host(data, B, T, n);
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Memory>::accessible &&
                  Kokkos::SpaceAccessibility<Memory, Kokkos::HostSpace>::accessible) {
      return View3(host.data(), B, T, n);
    } else {
      Kokkos::View<Scalar***, Kokkos::LayoutRight, Memory> copy("ungulate::c::grad_array", B, T, n);
      Kokkos::deep_copy(copy, host);
      return copy;
    }
  };
  Kokkos::View<Scalar**, Kokkos::LayoutRight, Memory> initial("ungulate::c::s0", B, D);
  if (read_s0 && g.initial_state != nullptr)
    Kokkos::deep_copy(initial, Kokkos::View<const Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace>(
                                   g.initial_state, B, D));
  ungulate::GradientOptions gopt;
  gopt.num_chunks = options.num_chunks;
  const auto r = ungulate::gradient(cell, in_memory(g.inputs, I), initial, in_memory(g.states, D),
                                    in_memory(g.cotangent, D), gopt, decomp);
  if (g.grad_inputs != nullptr)
    Kokkos::deep_copy(
        Kokkos::View<Scalar***, Kokkos::LayoutRight, Kokkos::HostSpace>(g.grad_inputs, B, T, I),
        r.inputs);
  if (g.grad_initial_state != nullptr)
    Kokkos::deep_copy(
        Kokkos::View<Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace>(g.grad_initial_state, B, D),
        r.initial_state);
  if (g.grad_weights != nullptr) std::copy(r.weights.begin(), r.weights.end(), g.grad_weights);
  if (!std::isfinite(r.max_abs_adjoint))
    raise(UNGULATE_ERROR_NOT_FINITE,
          "the adjoint overflowed (max |dL/ds_t| = " + std::to_string(r.max_abs_adjoint) +
              "): the gradient is not finite; the outputs hold what was computed");
}

template <class Scalar>
void validate_gradient(const GradientArrays<Scalar>& g, Arrays a) {
  if (a.length > 0) need(g.cotangent, "cotangent");
}

template <class Scalar>
int gradient_single(const char* function, const ungulate_model_s* model,
                    const ungulate_options_s* options, Arrays a, const GradientArrays<Scalar>& g) {
  return guarded(function, [&] {
    need_kokkos();
    validate(model, a, g.inputs, g.states, false);
    validate_gradient(g, a);
    const SolverOptions opt = options ? options->options : SolverOptions();
    std::lock_guard<std::mutex> lock(solve_mutex);
    with_cell<Scalar>(model->model, [&](const auto& cell) {
      gradient_cell(cell, opt, a, g, true, ungulate::dist::SingleRank());
    });
  });
}

template <class Scalar>
int gradient_mpi(const char* function, const ungulate_model_s* model,
                 const ungulate_options_s* options, ungulate_fint comm_handle, Arrays a,
                 const GradientArrays<Scalar>& g) {
  MPI_Comm comm = MPI_COMM_NULL;
  int code = mpi_preamble(function, comm_handle, model, a, g.inputs, g.states, comm);
  if (code != UNGULATE_OK) return code;
  code = agree(comm, guarded(function, [&] { validate_gradient(g, a); }));
  if (code != UNGULATE_OK) return code;
  return guarded(function, [&] {
    const auto decomp = slices(comm, a.length);
    const SolverOptions opt = options ? options->options : SolverOptions();
    std::lock_guard<std::mutex> lock(solve_mutex);
    with_cell<Scalar>(model->model, [&](const auto& cell) {
      gradient_cell(cell, opt, a, g, decomp.rank() == 0, decomp);
    });
  });
}

const std::vector<ungulate::cells::ParameterBlock>& parameter_blocks(const ungulate_model_s& m) {
  need_kokkos();
  std::call_once(m.blocks_once, [&] {
    m.blocks = with_cell<double>(m.model, [](const auto& cell) { return cell.parameter_blocks(); });
  });
  return m.blocks;
}

template <class Getter>
int get(const char* function, const ungulate_result_s* result, Getter&& getter) {
  return guarded(function, [&] {
    need(result, "result");
    getter(result->result);
  });
}

}  // namespace

extern "C" {

// ---- library -----------------------------------------------------------------------------

int ungulate_initialize(int* argc, char** argv) {
  return guarded("ungulate_initialize", [&] {
    std::lock_guard<std::mutex> lock(lifetime_mutex);
    if (Kokkos::is_initialized()) return;
    if (kokkos_finalized)
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "Kokkos cannot be initialised again after ungulate_finalize()");
    if (argc != nullptr && argv != nullptr)
      Kokkos::initialize(*argc, argv);
    else
      Kokkos::initialize();
    kokkos_ours = true;
  });
}

int ungulate_finalize(void) {
  return guarded("ungulate_finalize", [&] {
    std::lock_guard<std::mutex> lock(lifetime_mutex);
    if (!kokkos_ours) return;
    std::lock_guard<std::mutex> solving(solve_mutex);
    Kokkos::finalize();
    kokkos_ours = false;
    kokkos_finalized = true;
  });
}

int ungulate_is_initialized(void) {
  return Kokkos::is_initialized() ? 1 : 0;
}

const char* ungulate_version(void) {
  return UNGULATE_VERSION_STRING;
}

const char* ungulate_last_error(void) {
  return last_error.c_str();
}

const char* ungulate_error_string(int code) {
  switch (code) {
    case UNGULATE_OK:
      return "no error";
    case UNGULATE_ERROR_NULL_POINTER:
      return "null pointer";
    case UNGULATE_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case UNGULATE_ERROR_SIZE_MISMATCH:
      return "size mismatch";
    case UNGULATE_ERROR_NOT_INITIALIZED:
      return "not initialised";
    case UNGULATE_ERROR_IO:
      return "I/O error";
    case UNGULATE_ERROR_MPI:
      return "MPI error";
    case UNGULATE_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case UNGULATE_ERROR_INTERNAL:
      return "internal error";
    case UNGULATE_ERROR_NOT_FINITE:
      return "result not finite";
    default:
      return "unknown error code";
  }
}

// ---- models ------------------------------------------------------------------------------

int ungulate_model_load(const char* path, const char* group, ungulate_fint comm,
                        ungulate_model* model) {
  if (model != nullptr) *model = nullptr;
  return guarded("ungulate_model_load", [&] {
    need(model, "model");
    need(path, "path");
    const MPI_Comm c = communicator(comm);
    const auto file = io::H5File::open(path, c);
    *model = new ungulate_model_s(io::read_model(file, group ? group : "/model"));
  });
}

int ungulate_model_gru(int hidden, int inputs, const double* input_kernel,
                       const double* recurrent_kernel, const double* input_bias,
                       const double* recurrent_bias, ungulate_model* model) {
  if (model != nullptr) *model = nullptr;
  return guarded("ungulate_model_gru", [&] {
    need(model, "model");
    check_model_sizes(hidden, inputs);
    const std::size_t H = std::size_t(hidden), I = std::size_t(inputs);
    io::GruWeights w;
    w.hidden = hidden;
    w.inputs = inputs;
    w.input_kernel = copy_array(input_kernel, 3 * H * I, "input_kernel");
    w.recurrent_kernel = copy_array(recurrent_kernel, 3 * H * H, "recurrent_kernel");
    w.input_bias = copy_array(input_bias, 3 * H, "input_bias");
    w.recurrent_bias = copy_array(recurrent_bias, 3 * H, "recurrent_bias");
    *model = new ungulate_model_s(io::Model{std::move(w)});
  });
}

int ungulate_model_lstm(int hidden, int inputs, const double* weight_ih, const double* weight_hh,
                        const double* bias_ih, const double* bias_hh, ungulate_model* model) {
  if (model != nullptr) *model = nullptr;
  return guarded("ungulate_model_lstm", [&] {
    need(model, "model");
    check_model_sizes(hidden, inputs);
    const std::size_t H = std::size_t(hidden), I = std::size_t(inputs);
    io::LstmWeights w;
    w.hidden = hidden;
    w.inputs = inputs;
    w.weight_ih = copy_array(weight_ih, 4 * H * I, "weight_ih");
    w.weight_hh = copy_array(weight_hh, 4 * H * H, "weight_hh");
    w.bias_ih = copy_array(bias_ih, 4 * H, "bias_ih");
    w.bias_hh = copy_array(bias_hh, 4 * H, "bias_hh");
    *model = new ungulate_model_s(io::Model{std::move(w)});
  });
}

int ungulate_model_lorenz96(int n, double forcing, double dt, ungulate_model* model) {
  if (model != nullptr) *model = nullptr;
  return guarded("ungulate_model_lorenz96", [&] {
    need(model, "model");
    if (n < 1 || n > 65536)
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "n must be in 1..65536 (got " + std::to_string(n) + ")");
    if (!std::isfinite(forcing)) raise(UNGULATE_ERROR_INVALID_ARGUMENT, "forcing must be finite");
    if (!(dt > 0) || !std::isfinite(dt))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT, "dt must be finite and > 0");
    *model = new ungulate_model_s(io::Model{io::Lorenz96Parameters{n, forcing, dt}});
  });
}

void ungulate_model_free(ungulate_model model) {
  delete model;
}

int ungulate_model_state_size(const ungulate_model_s* model, int* size) {
  return guarded("ungulate_model_state_size", [&] {
    need(model, "model");
    need(size, "size");
    *size = model->model.state_size();
  });
}

int ungulate_model_input_size(const ungulate_model_s* model, int* size) {
  return guarded("ungulate_model_input_size", [&] {
    need(model, "model");
    need(size, "size");
    *size = model->model.input_size();
  });
}

int ungulate_model_cell(const ungulate_model_s* model, const char** name) {
  return guarded("ungulate_model_cell", [&] {
    need(model, "model");
    need(name, "name");
    *name = std::holds_alternative<io::GruWeights>(model->model.cell)    ? "gru"
            : std::holds_alternative<io::LstmWeights>(model->model.cell) ? "lstm"
                                                                         : "lorenz96";
  });
}

// ---- options -----------------------------------------------------------------------------

int ungulate_options_create(ungulate_options* options) {
  if (options != nullptr) *options = nullptr;
  return guarded("ungulate_options_create", [&] {
    need(options, "options");
    *options = new ungulate_options_s{};
  });
}

void ungulate_options_free(ungulate_options options) {
  delete options;
}

int ungulate_options_set_method(ungulate_options options, const char* method) {
  return guarded("ungulate_options_set_method", [&] {
    need(options, "options");
    need(method, "method");
    if (!ungulate::parse_method(method, options->options.method))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT, "unknown method '" + std::string(method) +
                                                 "' (seq, deer, quasi-deer, elk, quasi-elk, auto)");
  });
}

int ungulate_options_set_tolerance(ungulate_options options, double tolerance) {
  return guarded("ungulate_options_set_tolerance", [&] {
    need(options, "options");
    if (!(tolerance < 0 || tolerance > 0) || std::isinf(tolerance))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "tolerance must be finite and > 0 (or negative for the default)");
    options->options.tolerance = tolerance;
  });
}

int ungulate_options_set_max_iterations(ungulate_options options, int max_iterations) {
  return guarded("ungulate_options_set_max_iterations", [&] {
    need(options, "options");
    options->options.max_iterations = max_iterations;
  });
}

int ungulate_options_set_lambda(ungulate_options options, double lambda) {
  return guarded("ungulate_options_set_lambda", [&] {
    need(options, "options");
    if (!(lambda >= 0) || std::isinf(lambda))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT, "lambda must be finite and >= 0");
    options->options.lambda = lambda;
  });
}

int ungulate_options_set_trust_region(ungulate_options options, const char* trust_region) {
  return guarded("ungulate_options_set_trust_region", [&] {
    need(options, "options");
    need(trust_region, "trust_region");
    if (equals(trust_region, "adaptive"))
      options->options.trust_region = ungulate::TrustRegion::Adaptive;
    else if (equals(trust_region, "fixed"))
      options->options.trust_region = ungulate::TrustRegion::Fixed;
    else
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "unknown trust region '" + std::string(trust_region) + "' (adaptive, fixed)");
  });
}

int ungulate_options_set_elk_estimate(ungulate_options options, const char* estimate) {
  return guarded("ungulate_options_set_elk_estimate", [&] {
    need(options, "options");
    need(estimate, "estimate");
    if (equals(estimate, "smoother"))
      options->options.elk_estimate = ungulate::KalmanEstimate::Smoother;
    else if (equals(estimate, "filter"))
      options->options.elk_estimate = ungulate::KalmanEstimate::Filter;
    else
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "unknown ELK estimate '" + std::string(estimate) + "' (smoother, filter)");
  });
}

int ungulate_options_set_init(ungulate_options options, const char* init) {
  return guarded("ungulate_options_set_init", [&] {
    need(options, "options");
    need(init, "init");
    if (equals(init, "zeros"))
      options->options.init = ungulate::Initialization::Zeros;
    else if (equals(init, "warm"))
      options->options.init = ungulate::Initialization::Warm;
    else if (equals(init, "given"))
      options->options.init = ungulate::Initialization::Given;
    else
      raise(UNGULATE_ERROR_INVALID_ARGUMENT,
            "unknown init '" + std::string(init) + "' (zeros, warm, given)");
  });
}

int ungulate_options_set_fallback(ungulate_options options, int enabled) {
  return guarded("ungulate_options_set_fallback", [&] {
    need(options, "options");
    options->options.fallback = enabled != 0;
  });
}

int ungulate_options_set_chunks(ungulate_options options, int chunks) {
  return guarded("ungulate_options_set_chunks", [&] {
    need(options, "options");
    options->options.num_chunks = chunks;
  });
}

int ungulate_options_set_workspace(ungulate_options options, ungulate_workspace workspace) {
  return guarded("ungulate_options_set_workspace", [&] {
    need(options, "options");
    if (workspace != nullptr) {
      std::lock_guard<std::mutex> lock(workspace_mutex);
      require_live(workspace, "the workspace");
    }
    options->workspace = workspace;
  });
}

// ---- workspace ---------------------------------------------------------------------------

int ungulate_workspace_create(ungulate_workspace* workspace) {
  if (workspace != nullptr) *workspace = nullptr;
  return guarded("ungulate_workspace_create", [&] {
    need(workspace, "workspace");
    auto created = std::make_unique<ungulate_workspace_s>();
    std::lock_guard<std::mutex> lock(workspace_mutex);
    live_workspaces.insert(created.get());
    *workspace = created.release();
  });
}

void ungulate_workspace_free(ungulate_workspace workspace) {
  if (workspace == nullptr) return;
  // Not while a solve uses it; its buffers are empty once Kokkos is finalised.
  std::lock_guard<std::mutex> solving(solve_mutex);
  std::lock_guard<std::mutex> lock(workspace_mutex);
  if (live_workspaces.erase(workspace) == 0) return;  // freed already: nothing to do
  delete workspace;
}

int ungulate_workspace_bytes(const ungulate_workspace_s* workspace, long long* bytes) {
  return guarded("ungulate_workspace_bytes", [&] {
    need(workspace, "workspace");
    need(bytes, "bytes");
    // Not while a solve grows it.
    std::lock_guard<std::mutex> solving(solve_mutex);
    std::lock_guard<std::mutex> lock(workspace_mutex);
    require_live(workspace, "the workspace");
    *bytes = static_cast<long long>(workspace->f32.bytes() + workspace->f64.bytes());
  });
}

// ---- solving -----------------------------------------------------------------------------

int ungulate_solve_f32(const ungulate_model_s* model, const ungulate_options_s* options,
                       long long batch, long long length, int input_size, const float* inputs,
                       int state_size, const float* initial_state, float* states,
                       ungulate_result* result) {
  return solve_single("ungulate_solve_f32", model, options,
                      Arrays{batch, length, input_size, state_size}, inputs, initial_state, states,
                      result);
}

int ungulate_solve_f64(const ungulate_model_s* model, const ungulate_options_s* options,
                       long long batch, long long length, int input_size, const double* inputs,
                       int state_size, const double* initial_state, double* states,
                       ungulate_result* result) {
  return solve_single("ungulate_solve_f64", model, options,
                      Arrays{batch, length, input_size, state_size}, inputs, initial_state, states,
                      result);
}

int ungulate_solve_mpi_f32(const ungulate_model_s* model, const ungulate_options_s* options,
                           ungulate_fint comm, long long batch, long long local_length,
                           int input_size, const float* inputs, int state_size,
                           const float* initial_state, float* states, ungulate_result* result) {
  return solve_mpi("ungulate_solve_mpi_f32", model, options, comm,
                   Arrays{batch, local_length, input_size, state_size}, inputs, initial_state,
                   states, result);
}

int ungulate_solve_mpi_f64(const ungulate_model_s* model, const ungulate_options_s* options,
                           ungulate_fint comm, long long batch, long long local_length,
                           int input_size, const double* inputs, int state_size,
                           const double* initial_state, double* states, ungulate_result* result) {
  return solve_mpi("ungulate_solve_mpi_f64", model, options, comm,
                   Arrays{batch, local_length, input_size, state_size}, inputs, initial_state,
                   states, result);
}

int ungulate_mpi_slice(ungulate_fint comm, long long global_length, long long* first_step,
                       long long* local_length) {
  return guarded("ungulate_mpi_slice", [&] {
    need(first_step, "first_step");
    need(local_length, "local_length");
    if (global_length < 0) raise(UNGULATE_ERROR_INVALID_ARGUMENT, "global_length must be >= 0");
    const ungulate::dist::MpiTimeDecomposition d(communicator(comm), global_length);
    *first_step = d.first_step();
    *local_length = d.local_length();
  });
}

// ---- gradients ---------------------------------------------------------------------------

int ungulate_model_parameter_count(const ungulate_model_s* model, long long* count) {
  return guarded("ungulate_model_parameter_count", [&] {
    need(model, "model");
    need(count, "count");
    long long n = 0;
    for (const auto& b : parameter_blocks(*model)) n += (long long)b.size();
    *count = n;
  });
}

int ungulate_model_parameter_block_count(const ungulate_model_s* model, int* count) {
  return guarded("ungulate_model_parameter_block_count", [&] {
    need(model, "model");
    need(count, "count");
    *count = int(parameter_blocks(*model).size());
  });
}

int ungulate_model_parameter_block(const ungulate_model_s* model, int index, const char** name,
                                   long long* offset, long long* size, int* rank,
                                   long long* shape) {
  return guarded("ungulate_model_parameter_block", [&] {
    need(model, "model");
    const auto& blocks = parameter_blocks(*model);
    if (index < 0 || index >= int(blocks.size()))
      raise(UNGULATE_ERROR_INVALID_ARGUMENT, "index " + std::to_string(index) + " is not in 0.." +
                                                 std::to_string(int(blocks.size()) - 1));
    long long first = 0;
    for (int k = 0; k < index; ++k) first += (long long)blocks[std::size_t(k)].size();
    const auto& b = blocks[std::size_t(index)];
    if (b.shape.size() > UNGULATE_MAX_PARAMETER_RANK)
      raise(UNGULATE_ERROR_INTERNAL, "block " + b.name + " has more dimensions than the API's " +
                                         std::to_string(UNGULATE_MAX_PARAMETER_RANK));
    if (name) *name = b.name.c_str();
    if (offset) *offset = first;
    if (size) *size = (long long)b.size();
    if (rank) *rank = int(b.shape.size());
    if (shape)
      for (std::size_t k = 0; k < b.shape.size(); ++k) shape[k] = (long long)b.shape[k];
  });
}

int ungulate_gradient_f32(const ungulate_model_s* model, const ungulate_options_s* options,
                          long long batch, long long length, int input_size, const float* inputs,
                          int state_size, const float* initial_state, const float* states,
                          const float* cotangent, float* grad_inputs, float* grad_initial_state,
                          double* grad_weights) {
  return gradient_single("ungulate_gradient_f32", model, options,
                         Arrays{batch, length, input_size, state_size},
                         GradientArrays<float>{inputs, initial_state, states, cotangent,
                                               grad_inputs, grad_initial_state, grad_weights});
}

int ungulate_gradient_f64(const ungulate_model_s* model, const ungulate_options_s* options,
                          long long batch, long long length, int input_size, const double* inputs,
                          int state_size, const double* initial_state, const double* states,
                          const double* cotangent, double* grad_inputs, double* grad_initial_state,
                          double* grad_weights) {
  return gradient_single("ungulate_gradient_f64", model, options,
                         Arrays{batch, length, input_size, state_size},
                         GradientArrays<double>{inputs, initial_state, states, cotangent,
                                                grad_inputs, grad_initial_state, grad_weights});
}

int ungulate_gradient_mpi_f32(const ungulate_model_s* model, const ungulate_options_s* options,
                              ungulate_fint comm, long long batch, long long local_length,
                              int input_size, const float* inputs, int state_size,
                              const float* initial_state, const float* states,
                              const float* cotangent, float* grad_inputs, float* grad_initial_state,
                              double* grad_weights) {
  return gradient_mpi("ungulate_gradient_mpi_f32", model, options, comm,
                      Arrays{batch, local_length, input_size, state_size},
                      GradientArrays<float>{inputs, initial_state, states, cotangent, grad_inputs,
                                            grad_initial_state, grad_weights});
}

int ungulate_gradient_mpi_f64(const ungulate_model_s* model, const ungulate_options_s* options,
                              ungulate_fint comm, long long batch, long long local_length,
                              int input_size, const double* inputs, int state_size,
                              const double* initial_state, const double* states,
                              const double* cotangent, double* grad_inputs,
                              double* grad_initial_state, double* grad_weights) {
  return gradient_mpi("ungulate_gradient_mpi_f64", model, options, comm,
                      Arrays{batch, local_length, input_size, state_size},
                      GradientArrays<double>{inputs, initial_state, states, cotangent, grad_inputs,
                                             grad_initial_state, grad_weights});
}

// ---- results -----------------------------------------------------------------------------

void ungulate_result_free(ungulate_result result) {
  delete result;
}

int ungulate_result_status(const ungulate_result_s* result, int* status) {
  return get("ungulate_result_status", result, [&](const SolveResult& r) {
    need(status, "status");
    switch (r.status) {
      case ungulate::Status::Converged:
        *status = UNGULATE_STATUS_CONVERGED;
        break;
      case ungulate::Status::MaxIterations:
        *status = UNGULATE_STATUS_MAX_ITERATIONS;
        break;
      case ungulate::Status::Diverged:
        *status = UNGULATE_STATUS_DIVERGED;
        break;
      case ungulate::Status::Stalled:
        *status = UNGULATE_STATUS_STALLED;
        break;
    }
  });
}

int ungulate_result_method(const ungulate_result_s* result, const char** method) {
  return get("ungulate_result_method", result, [&](const SolveResult& r) {
    need(method, "method");
    *method = ungulate::to_string(r.method);
  });
}

int ungulate_result_iterations(const ungulate_result_s* result, int* iterations) {
  return get("ungulate_result_iterations", result, [&](const SolveResult& r) {
    need(iterations, "iterations");
    *iterations = r.iterations;
  });
}

int ungulate_result_residual(const ungulate_result_s* result, double* residual) {
  return get("ungulate_result_residual", result, [&](const SolveResult& r) {
    need(residual, "residual");
    *residual = r.final_residual;
  });
}

int ungulate_result_fallback(const ungulate_result_s* result, int* fallback, int* iteration) {
  return get("ungulate_result_fallback", result, [&](const SolveResult& r) {
    need(fallback, "fallback");
    switch (r.fallback) {
      case ungulate::Fallback::None:
        *fallback = UNGULATE_FALLBACK_NONE;
        break;
      case ungulate::Fallback::Damped:
        *fallback = UNGULATE_FALLBACK_DAMPED;
        break;
      case ungulate::Fallback::Sequential:
        *fallback = UNGULATE_FALLBACK_SEQUENTIAL;
        break;
      case ungulate::Fallback::WarmRestart:
        *fallback = UNGULATE_FALLBACK_WARM_RESTART;
        break;
    }
    if (iteration != nullptr) *iteration = r.fallback_iteration;
  });
}

int ungulate_result_lle(const ungulate_result_s* result, double* lle) {
  return get("ungulate_result_lle", result, [&](const SolveResult& r) {
    need(lle, "lle");
    *lle = r.lle;
  });
}

int ungulate_result_seconds(const ungulate_result_s* result, double* seconds) {
  return get("ungulate_result_seconds", result, [&](const SolveResult& r) {
    need(seconds, "seconds");
    *seconds = r.seconds;
  });
}

int ungulate_result_history_count(const ungulate_result_s* result, int* count) {
  return get("ungulate_result_history_count", result, [&](const SolveResult& r) {
    need(count, "count");
    *count = int(r.history.size());
  });
}

int ungulate_result_history(const ungulate_result_s* result, int capacity, double* residual,
                            double* update, double* seconds, double* lambda, int* written) {
  return get("ungulate_result_history", result, [&](const SolveResult& r) {
    if (capacity < 0) raise(UNGULATE_ERROR_INVALID_ARGUMENT, "capacity must be >= 0");
    const int n = std::min(capacity, int(r.history.size()));
    for (int i = 0; i < n; ++i) {
      const auto& h = r.history[std::size_t(i)];
      if (residual) residual[i] = h.residual;
      if (update) update[i] = h.update_norm;
      if (seconds) seconds[i] = h.seconds;
      if (lambda) lambda[i] = h.lambda;
    }
    if (written) *written = n;
  });
}

}  // extern "C"
