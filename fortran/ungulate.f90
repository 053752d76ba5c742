! Fortran interface to ungulate's C API (include/ungulate/ungulate.h), by ISO_C_BINDING.
! Installed as source (share/ungulate/fortran/ungulate.f90, ${UNGULATE_FORTRAN_MODULE} after
! find_package(ungulate)): compile it with your program and link ungulate::c.
!
! Arrays are passed as C sees them, row-major: declare them reversed in Fortran,
!   inputs(input_size, length, batch), states(state_size, length, batch), s0(state_size, batch)
! GRU weights in the HDF5 layout (3, hidden, inputs) row-major are input_kernel(inputs, hidden, 3)
! in Fortran.  Strings are passed NUL-terminated: method // c_null_char.
! Communicators: the integer handle of `use mpi` (or comm%MPI_VAL of `use mpi_f08`).
module ungulate
  use, intrinsic :: iso_c_binding
  implicit none

  integer(c_int), parameter :: UNGULATE_OK = 0
  integer(c_int), parameter :: UNGULATE_ERROR_NULL_POINTER = 1
  integer(c_int), parameter :: UNGULATE_ERROR_INVALID_ARGUMENT = 2
  integer(c_int), parameter :: UNGULATE_ERROR_SIZE_MISMATCH = 3
  integer(c_int), parameter :: UNGULATE_ERROR_NOT_INITIALIZED = 4
  integer(c_int), parameter :: UNGULATE_ERROR_IO = 5
  integer(c_int), parameter :: UNGULATE_ERROR_MPI = 6
  integer(c_int), parameter :: UNGULATE_ERROR_OUT_OF_MEMORY = 7
  integer(c_int), parameter :: UNGULATE_ERROR_INTERNAL = 8
  integer(c_int), parameter :: UNGULATE_ERROR_NOT_FINITE = 9
  integer(c_int), parameter :: UNGULATE_MAX_PARAMETER_RANK = 4

  integer(c_int), parameter :: UNGULATE_STATUS_CONVERGED = 0
  integer(c_int), parameter :: UNGULATE_STATUS_MAX_ITERATIONS = 1
  integer(c_int), parameter :: UNGULATE_STATUS_DIVERGED = 2
  integer(c_int), parameter :: UNGULATE_STATUS_STALLED = 3

  integer(c_int), parameter :: UNGULATE_FALLBACK_NONE = 0
  integer(c_int), parameter :: UNGULATE_FALLBACK_DAMPED = 1
  integer(c_int), parameter :: UNGULATE_FALLBACK_SEQUENTIAL = 2
  integer(c_int), parameter :: UNGULATE_FALLBACK_WARM_RESTART = 3

  interface
    ! ---- library
    integer(c_int) function ungulate_initialize(argc, argv) bind(c, name="ungulate_initialize")
      import :: c_int, c_ptr
      type(c_ptr), value :: argc, argv  ! c_null_ptr, c_null_ptr from Fortran
    end function
    integer(c_int) function ungulate_finalize() bind(c, name="ungulate_finalize")
      import :: c_int
    end function
    integer(c_int) function ungulate_is_initialized() bind(c, name="ungulate_is_initialized")
      import :: c_int
    end function
    type(c_ptr) function ungulate_last_error_c() bind(c, name="ungulate_last_error")
      import :: c_ptr
    end function
    type(c_ptr) function ungulate_version_c() bind(c, name="ungulate_version")
      import :: c_ptr
    end function

    ! ---- models
    integer(c_int) function ungulate_model_load(path, group, comm, model) &
        bind(c, name="ungulate_model_load")
      import :: c_int, c_char, c_ptr
      character(kind=c_char), dimension(*), intent(in) :: path
      type(c_ptr), value :: group  ! c_null_ptr for "/model", or c_loc of a NUL-terminated name
      integer(c_int), value :: comm
      type(c_ptr), intent(out) :: model
    end function
    integer(c_int) function ungulate_model_gru(hidden, inputs, input_kernel, recurrent_kernel, &
        input_bias, recurrent_bias, model) bind(c, name="ungulate_model_gru")
      import :: c_int, c_double, c_ptr
      integer(c_int), value :: hidden, inputs
      real(c_double), dimension(*), intent(in) :: input_kernel, recurrent_kernel
      real(c_double), dimension(*), intent(in) :: input_bias, recurrent_bias
      type(c_ptr), intent(out) :: model
    end function
    integer(c_int) function ungulate_model_lstm(hidden, inputs, weight_ih, weight_hh, bias_ih, &
        bias_hh, model) bind(c, name="ungulate_model_lstm")
      import :: c_int, c_double, c_ptr
      integer(c_int), value :: hidden, inputs
      real(c_double), dimension(*), intent(in) :: weight_ih, weight_hh, bias_ih, bias_hh
      type(c_ptr), intent(out) :: model
    end function
    integer(c_int) function ungulate_model_lorenz96(n, forcing, dt, model) &
        bind(c, name="ungulate_model_lorenz96")
      import :: c_int, c_double, c_ptr
      integer(c_int), value :: n
      real(c_double), value :: forcing, dt
      type(c_ptr), intent(out) :: model
    end function
    subroutine ungulate_model_free(model) bind(c, name="ungulate_model_free")
      import :: c_ptr
      type(c_ptr), value :: model
    end subroutine
    integer(c_int) function ungulate_model_state_size(model, size) &
        bind(c, name="ungulate_model_state_size")
      import :: c_int, c_ptr
      type(c_ptr), value :: model
      integer(c_int), intent(out) :: size
    end function
    integer(c_int) function ungulate_model_input_size(model, size) &
        bind(c, name="ungulate_model_input_size")
      import :: c_int, c_ptr
      type(c_ptr), value :: model
      integer(c_int), intent(out) :: size
    end function

    ! ---- options (strings NUL-terminated)
    integer(c_int) function ungulate_options_create(options) bind(c, name="ungulate_options_create")
      import :: c_int, c_ptr
      type(c_ptr), intent(out) :: options
    end function
    subroutine ungulate_options_free(options) bind(c, name="ungulate_options_free")
      import :: c_ptr
      type(c_ptr), value :: options
    end subroutine
    integer(c_int) function ungulate_options_set_method(options, method) &
        bind(c, name="ungulate_options_set_method")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: options
      character(kind=c_char), dimension(*), intent(in) :: method
    end function
    integer(c_int) function ungulate_options_set_tolerance(options, tolerance) &
        bind(c, name="ungulate_options_set_tolerance")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: options
      real(c_double), value :: tolerance
    end function
    integer(c_int) function ungulate_options_set_max_iterations(options, n) &
        bind(c, name="ungulate_options_set_max_iterations")
      import :: c_int, c_ptr
      type(c_ptr), value :: options
      integer(c_int), value :: n
    end function
    integer(c_int) function ungulate_options_set_lambda(options, lambda) &
        bind(c, name="ungulate_options_set_lambda")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: options
      real(c_double), value :: lambda
    end function
    integer(c_int) function ungulate_options_set_trust_region(options, name) &
        bind(c, name="ungulate_options_set_trust_region")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: options
      character(kind=c_char), dimension(*), intent(in) :: name
    end function
    integer(c_int) function ungulate_options_set_elk_estimate(options, name) &
        bind(c, name="ungulate_options_set_elk_estimate")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: options
      character(kind=c_char), dimension(*), intent(in) :: name
    end function
    integer(c_int) function ungulate_options_set_init(options, name) &
        bind(c, name="ungulate_options_set_init")
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: options
      character(kind=c_char), dimension(*), intent(in) :: name
    end function
    integer(c_int) function ungulate_options_set_fallback(options, enabled) &
        bind(c, name="ungulate_options_set_fallback")
      import :: c_int, c_ptr
      type(c_ptr), value :: options
      integer(c_int), value :: enabled
    end function
    integer(c_int) function ungulate_options_set_chunks(options, chunks) &
        bind(c, name="ungulate_options_set_chunks")
      import :: c_int, c_ptr
      type(c_ptr), value :: options
      integer(c_int), value :: chunks
    end function
    integer(c_int) function ungulate_options_set_workspace(options, workspace) &
        bind(c, name="ungulate_options_set_workspace")
      import :: c_int, c_ptr
      type(c_ptr), value :: options, workspace  ! workspace: c_null_ptr for none
    end function

    ! ---- workspace (the solves' large arrays, kept between solves)
    integer(c_int) function ungulate_workspace_create(workspace) &
        bind(c, name="ungulate_workspace_create")
      import :: c_int, c_ptr
      type(c_ptr), intent(out) :: workspace
    end function
    subroutine ungulate_workspace_free(workspace) bind(c, name="ungulate_workspace_free")
      import :: c_ptr
      type(c_ptr), value :: workspace
    end subroutine
    integer(c_int) function ungulate_workspace_bytes(workspace, bytes) &
        bind(c, name="ungulate_workspace_bytes")
      import :: c_int, c_ptr, c_long_long
      type(c_ptr), value :: workspace
      integer(c_long_long), intent(out) :: bytes
    end function

    ! ---- solving (options / initial_state / result may be c_null_ptr: pass them by c_loc)
    integer(c_int) function ungulate_solve_f32(model, options, batch, length, input_size, inputs, &
        state_size, initial_state, states, result) bind(c, name="ungulate_solve_f32")
      import :: c_int, c_ptr, c_long_long, c_float
      type(c_ptr), value :: model, options
      integer(c_long_long), value :: batch, length
      integer(c_int), value :: input_size, state_size
      real(c_float), dimension(*), intent(in) :: inputs
      type(c_ptr), value :: initial_state
      real(c_float), dimension(*), intent(inout) :: states
      type(c_ptr), intent(out) :: result
    end function
    integer(c_int) function ungulate_solve_f64(model, options, batch, length, input_size, inputs, &
        state_size, initial_state, states, result) bind(c, name="ungulate_solve_f64")
      import :: c_int, c_ptr, c_long_long, c_double
      type(c_ptr), value :: model, options
      integer(c_long_long), value :: batch, length
      integer(c_int), value :: input_size, state_size
      real(c_double), dimension(*), intent(in) :: inputs
      type(c_ptr), value :: initial_state
      real(c_double), dimension(*), intent(inout) :: states
      type(c_ptr), intent(out) :: result
    end function
    integer(c_int) function ungulate_solve_mpi_f32(model, options, comm, batch, local_length, &
        input_size, inputs, state_size, initial_state, states, result) &
        bind(c, name="ungulate_solve_mpi_f32")
      import :: c_int, c_ptr, c_long_long, c_float
      type(c_ptr), value :: model, options
      integer(c_int), value :: comm
      integer(c_long_long), value :: batch, local_length
      integer(c_int), value :: input_size, state_size
      real(c_float), dimension(*), intent(in) :: inputs
      type(c_ptr), value :: initial_state
      real(c_float), dimension(*), intent(inout) :: states
      type(c_ptr), intent(out) :: result
    end function
    integer(c_int) function ungulate_solve_mpi_f64(model, options, comm, batch, local_length, &
        input_size, inputs, state_size, initial_state, states, result) &
        bind(c, name="ungulate_solve_mpi_f64")
      import :: c_int, c_ptr, c_long_long, c_double
      type(c_ptr), value :: model, options
      integer(c_int), value :: comm
      integer(c_long_long), value :: batch, local_length
      integer(c_int), value :: input_size, state_size
      real(c_double), dimension(*), intent(in) :: inputs
      type(c_ptr), value :: initial_state
      real(c_double), dimension(*), intent(inout) :: states
      type(c_ptr), intent(out) :: result
    end function
    integer(c_int) function ungulate_mpi_slice(comm, global_length, first_step, local_length) &
        bind(c, name="ungulate_mpi_slice")
      import :: c_int, c_long_long
      integer(c_int), value :: comm
      integer(c_long_long), value :: global_length
      integer(c_long_long), intent(out) :: first_step, local_length
    end function

    ! ---- results
    subroutine ungulate_result_free(result) bind(c, name="ungulate_result_free")
      import :: c_ptr
      type(c_ptr), value :: result
    end subroutine
    integer(c_int) function ungulate_result_status(result, status) &
        bind(c, name="ungulate_result_status")
      import :: c_int, c_ptr
      type(c_ptr), value :: result
      integer(c_int), intent(out) :: status
    end function
    integer(c_int) function ungulate_result_iterations(result, iterations) &
        bind(c, name="ungulate_result_iterations")
      import :: c_int, c_ptr
      type(c_ptr), value :: result
      integer(c_int), intent(out) :: iterations
    end function
    integer(c_int) function ungulate_result_residual(result, residual) &
        bind(c, name="ungulate_result_residual")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: result
      real(c_double), intent(out) :: residual
    end function
    integer(c_int) function ungulate_result_fallback(result, fallback, iteration) &
        bind(c, name="ungulate_result_fallback")
      import :: c_int, c_ptr
      type(c_ptr), value :: result
      integer(c_int), intent(out) :: fallback, iteration
    end function
    integer(c_int) function ungulate_result_lle(result, lle) bind(c, name="ungulate_result_lle")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: result
      real(c_double), intent(out) :: lle
    end function
    integer(c_int) function ungulate_result_seconds(result, seconds) &
        bind(c, name="ungulate_result_seconds")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: result
      real(c_double), intent(out) :: seconds
    end function
    integer(c_int) function ungulate_result_history_count(result, count) &
        bind(c, name="ungulate_result_history_count")
      import :: c_int, c_ptr
      type(c_ptr), value :: result
      integer(c_int), intent(out) :: count
    end function
    ! residual, update, seconds, lambda: c_loc of arrays of `capacity` values, or c_null_ptr
    integer(c_int) function ungulate_result_history(result, capacity, residual, update, seconds, &
        lambda, written) bind(c, name="ungulate_result_history")
      import :: c_int, c_ptr
      type(c_ptr), value :: result
      integer(c_int), value :: capacity
      type(c_ptr), value :: residual, update, seconds, lambda
      integer(c_int), intent(out) :: written
    end function

    ! ---- gradients (grad_inputs, grad_initial_state, grad_weights: c_loc of an array, or
    ! c_null_ptr to skip; grad_weights is real(c_double), ungulate_model_parameter_count values)
    integer(c_int) function ungulate_model_parameter_count(model, count) &
        bind(c, name="ungulate_model_parameter_count")
      import :: c_int, c_ptr, c_long_long
      type(c_ptr), value :: model
      integer(c_long_long), intent(out) :: count
    end function
    integer(c_int) function ungulate_model_parameter_block_count(model, count) &
        bind(c, name="ungulate_model_parameter_block_count")
      import :: c_int, c_ptr
      type(c_ptr), value :: model
      integer(c_int), intent(out) :: count
    end function
    ! index is 0-based.  Each output is c_loc of a variable, or c_null_ptr: name of a
    ! type(c_ptr) (it receives a NUL-terminated C string owned by the model), offset and size of
    ! integer(c_long_long), rank of integer(c_int), shape of integer(c_long_long) :: s(4)
    integer(c_int) function ungulate_model_parameter_block(model, index, name, offset, size, &
        rank, shape) bind(c, name="ungulate_model_parameter_block")
      import :: c_int, c_ptr
      type(c_ptr), value :: model
      integer(c_int), value :: index
      type(c_ptr), value :: name, offset, size, rank, shape
    end function
    integer(c_int) function ungulate_gradient_f32(model, options, batch, length, input_size, &
        inputs, state_size, initial_state, states, cotangent, grad_inputs, grad_initial_state, &
        grad_weights) bind(c, name="ungulate_gradient_f32")
      import :: c_int, c_ptr, c_long_long, c_float
      type(c_ptr), value :: model, options
      integer(c_long_long), value :: batch, length
      integer(c_int), value :: input_size, state_size
      real(c_float), dimension(*), intent(in) :: inputs, states, cotangent
      type(c_ptr), value :: initial_state, grad_inputs, grad_initial_state, grad_weights
    end function
    integer(c_int) function ungulate_gradient_mpi_f32(model, options, comm, batch, local_length, &
        input_size, inputs, state_size, initial_state, states, cotangent, grad_inputs, &
        grad_initial_state, grad_weights) bind(c, name="ungulate_gradient_mpi_f32")
      import :: c_int, c_ptr, c_long_long, c_float
      type(c_ptr), value :: model, options
      integer(c_int), value :: comm
      integer(c_long_long), value :: batch, local_length
      integer(c_int), value :: input_size, state_size
      real(c_float), dimension(*), intent(in) :: inputs, states, cotangent
      type(c_ptr), value :: initial_state, grad_inputs, grad_initial_state, grad_weights
    end function
    integer(c_int) function ungulate_gradient_f64(model, options, batch, length, input_size, &
        inputs, state_size, initial_state, states, cotangent, grad_inputs, grad_initial_state, &
        grad_weights) bind(c, name="ungulate_gradient_f64")
      import :: c_int, c_ptr, c_long_long, c_double
      type(c_ptr), value :: model, options
      integer(c_long_long), value :: batch, length
      integer(c_int), value :: input_size, state_size
      real(c_double), dimension(*), intent(in) :: inputs, states, cotangent
      type(c_ptr), value :: initial_state, grad_inputs, grad_initial_state, grad_weights
    end function
    integer(c_int) function ungulate_gradient_mpi_f64(model, options, comm, batch, local_length, &
        input_size, inputs, state_size, initial_state, states, cotangent, grad_inputs, &
        grad_initial_state, grad_weights) bind(c, name="ungulate_gradient_mpi_f64")
      import :: c_int, c_ptr, c_long_long, c_double
      type(c_ptr), value :: model, options
      integer(c_int), value :: comm
      integer(c_long_long), value :: batch, local_length
      integer(c_int), value :: input_size, state_size
      real(c_double), dimension(*), intent(in) :: inputs, states, cotangent
      type(c_ptr), value :: initial_state, grad_inputs, grad_initial_state, grad_weights
    end function
  end interface

contains

  ! Copies a C string into a Fortran string (truncated to the length of `text`).
  subroutine ungulate_c_string(p, text)
    type(c_ptr), intent(in) :: p
    character(len=*), intent(out) :: text
    character(kind=c_char), dimension(:), pointer :: chars
    integer :: i
    text = ' '
    if (.not. c_associated(p)) return
    call c_f_pointer(p, chars, [len(text)])
    do i = 1, len(text)
      if (chars(i) == c_null_char) exit
      text(i:i) = chars(i)
    end do
  end subroutine

  ! This thread's last error message, as a Fortran string.
  function ungulate_last_error() result(text)
    character(len=1024) :: text
    call ungulate_c_string(ungulate_last_error_c(), text)
  end function

  function ungulate_version() result(text)
    character(len=32) :: text
    call ungulate_c_string(ungulate_version_c(), text)
  end function

end module ungulate
