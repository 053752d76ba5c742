! A small GRU from arrays, evaluated with quasi-DEER across the MPI ranks and checked against
! sequential evaluation, from Fortran; then the gradient of L = sum of all states with respect
! to the initial state.  Run: mpirun -np 2 ./gru_fortran  (or ./gru_fortran).
! Exit code 0 when quasi-DEER converged and matches sequential to 1e-6, 1 otherwise.
!
! ungulate's arrays are row-major (C order); Fortran declares them with the dimensions
! reversed: x(inputs, steps, batch), s(hidden, steps, batch), input_kernel(inputs, hidden, 3).
program gru_fortran
  use, intrinsic :: iso_c_binding
  use mpi
  use ungulate
  implicit none
  integer(c_int), parameter :: hidden = 8, inputs = 3
  integer(c_long_long), parameter :: batch = 2, length = 2000
  real(c_double) :: wi(inputs, hidden, 3), wh(hidden, hidden, 3), bi(hidden, 3), bh(hidden, 3)
  real(c_double), allocatable, target :: x(:, :, :), fast(:, :, :), slow(:, :, :), s0(:, :)
  real(c_double), allocatable, target :: cotangent(:, :, :), grad_s0(:, :)
  type(c_ptr) :: model, options, result, reference
  integer(c_long_long) :: first, local, t
  integer(c_int) :: status, iterations
  real(c_double) :: residual, error
  integer :: ierr, rank, ranks, i, b, k
  logical :: ok

  call MPI_Init(ierr)
  call check(ungulate_initialize(c_null_ptr, c_null_ptr), 'ungulate_initialize')
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, ranks, ierr)

  ! Weights (the same on every rank): kernels about 1/sqrt(fan-in), small biases.
  do k = 1, 3
    do i = 1, hidden
      do b = 1, inputs
        wi(b, i, k) = noise(1 * 100000 + k * 1000 + i * 10 + b) / sqrt(real(inputs, c_double))
      end do
      do b = 1, hidden
        wh(b, i, k) = noise(2 * 100000 + k * 1000 + i * 10 + b) / sqrt(real(hidden, c_double))
      end do
      bi(i, k) = 0.1d0 * noise(3 * 100000 + k * 1000 + i)
      bh(i, k) = 0.1d0 * noise(4 * 100000 + k * 1000 + i)
    end do
  end do
  call check(ungulate_model_gru(hidden, inputs, wi, wh, bi, bh, model), 'ungulate_model_gru')

  ! This rank's time slice, steps first .. first + local - 1 (0-based) of every sequence.
  call check(ungulate_mpi_slice(MPI_COMM_WORLD, length, first, local), 'ungulate_mpi_slice')
  allocate(x(inputs, max(local, 1_c_long_long), batch), s0(hidden, batch))
  allocate(fast(hidden, max(local, 1_c_long_long), batch), slow(hidden, max(local, 1_c_long_long), batch))
  do b = 1, int(batch)
    do t = 1, local
      do i = 1, inputs
        x(i, t, b) = noise(int(5 * 100000 + (b * length + first + t) * inputs + i))
      end do
    end do
    do i = 1, hidden
      s0(i, b) = 0.5d0 * noise(6 * 100000 + b * 100 + i)
    end do
  end do

  call check(ungulate_options_create(options), 'ungulate_options_create')
  call check(ungulate_options_set_method(options, 'quasi-deer' // c_null_char), 'set_method')
  call check(ungulate_options_set_tolerance(options, 1d-9), 'set_tolerance')
  call check(ungulate_solve_mpi_f64(model, options, MPI_COMM_WORLD, batch, local, inputs, x, &
                                    hidden, c_loc(s0), fast, result), 'ungulate_solve_mpi_f64')
  call check(ungulate_result_status(result, status), 'ungulate_result_status')
  call check(ungulate_result_iterations(result, iterations), 'ungulate_result_iterations')
  call check(ungulate_result_residual(result, residual), 'ungulate_result_residual')

  call check(ungulate_options_set_method(options, 'seq' // c_null_char), 'set_method')
  call check(ungulate_solve_mpi_f64(model, options, MPI_COMM_WORLD, batch, local, inputs, x, &
                                    hidden, c_loc(s0), slow, reference), 'ungulate_solve_mpi_f64')

  error = 0
  if (local > 0) error = maxval(abs(fast(:, 1:local, :) - slow(:, 1:local, :)))
  call MPI_Allreduce(MPI_IN_PLACE, error, 1, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD, ierr)
  ok = status == UNGULATE_STATUS_CONVERGED .and. error < 1d-6
  if (rank == 0) then
    write (*, '(3a, i0, a, i0, 3a, i0, a, es9.2, a, es9.2, 2a)') 'gru_fortran: ungulate ', &
      trim(ungulate_version()), ', ', ranks, &
      ' rank(s), T ', length, ': quasi-deer ', &
      trim(merge('converged       ', 'did not converge', status == UNGULATE_STATUS_CONVERGED)), &
      ' in ', iterations, ' iterations, residual ', residual, ', max |quasi-deer - seq| ', &
      error, ': ', trim(merge('OK      ', 'MISMATCH', ok))
  end if

  ! Gradient of L = sum of all states: the cotangent dL/ds_t is 1 everywhere.
  allocate(cotangent(hidden, max(local, 1_c_long_long), batch), grad_s0(hidden, batch))
  cotangent = 1
  call check(ungulate_gradient_mpi_f64(model, c_null_ptr, MPI_COMM_WORLD, batch, local, inputs, &
                                       x, hidden, c_loc(s0), slow, cotangent, c_null_ptr, &
                                       c_loc(grad_s0), c_null_ptr), 'ungulate_gradient_mpi_f64')
  if (rank == 0) write (*, '(a, es10.3)') 'gru_fortran: gradient of sum(s): |dL/ds_0| ', &
    sqrt(sum(grad_s0**2))

  call ungulate_result_free(reference)
  call ungulate_result_free(result)
  call ungulate_options_free(options)
  call ungulate_model_free(model)
  call check(ungulate_finalize(), 'ungulate_finalize')
  call MPI_Finalize(ierr)
  if (.not. ok) stop 1

contains

  ! Deterministic numbers in [-1, 1) from an index, the same on every rank.
  real(c_double) function noise(n)
    integer, value :: n
    noise = modulo(sin(real(n, c_double) * 12.9898d0) * 43758.5453d0, 1d0) * 2d0 - 1d0
  end function

  subroutine check(code, what)
    integer(c_int), intent(in) :: code
    character(len=*), intent(in) :: what
    integer :: e
    if (code /= UNGULATE_OK) then
      write (*, '(a, a, a)') what, ' failed: ', trim(ungulate_last_error())
      call MPI_Abort(MPI_COMM_WORLD, 2, e)
    end if
  end subroutine

end program gru_fortran
