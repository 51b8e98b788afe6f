!> The only module that f90wrap sees: a thin, array-only surface over the
!> physics modules (casa_step, mimics_step). Every argument is an intrinsic
!> scalar or an explicit-shape array, so the Python side passes NumPy arrays in
!> Fortran order without copies. See docs/kernel.md.
module testbed_kernel
   use tb_precision, only: dp, sp
   use tb_layout, only: NSTATE, NCASAPARAM, NMIMICSPARAM, NDIAG, NFIX
   use casa_step, only: casa_initialise_impl, advance_casa_impl, casa_restart_write_reset_impl
   use mimics_step, only: mimics_initialise_impl, advance_mimics_impl
   use corpse_soil, only: corpse_initialise_impl, advance_corpse_impl
   implicit none
   private
   public :: layout_sizes, casa_initialise, advance_casa, casa_restart_write_reset
   public :: mimics_initialise, advance_mimics
   public :: corpse_initialise, advance_corpse

contains

   !> Sizes of the column layouts compiled into this kernel, for the Python side to check.
   subroutine layout_sizes(nstate_out, ncasaparam_out, nmimicsparam_out, ndiag_out, nfix_out)
      integer, intent(out) :: nstate_out, ncasaparam_out, nmimicsparam_out, ndiag_out, nfix_out
      nstate_out = NSTATE
      ncasaparam_out = NCASAPARAM
      nmimicsparam_out = NMIMICSPARAM
      ndiag_out = NDIAG
      nfix_out = NFIX
   end subroutine layout_sizes

   !> Cold-start or restart initialisation of the CASA state (spec casa.md 6.1, 6.2).
   subroutine casa_initialise(ncell, icycle, cold_start, fixes, nfix, params, npar, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, nfix, npar, nst
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      call casa_initialise_impl(ncell, icycle, cold_start, fixes, nfix, params, npar, state, nst, ierr)
   end subroutine casa_initialise

   !> Advance CASA-CNP vegetation + CASA soil by nday days of one year.
   !> Every soil model's advance has this argument list (docs/kernel.md); CASA soil has no parameter
   !> array of its own (nsp = 0) and nothing to do on the first year of a run.
   subroutine advance_casa(ncell, nday, icycle, doy0, first_year, fixes, nfix, params, npar, sparams, nsp, &
                           state, nst, gpp, tair, ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, &
                           store_daily, nstore, daily, ndg, annual, ierr)
      integer, intent(in) :: ncell, nday, icycle, doy0, first_year, nfix, npar, nsp, nst, store_daily, nstore, ndg
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar), sparams(ncell, nsp)
      real(dp), intent(inout) :: state(ncell, nst)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, 6, nday), moist(ncell, 6, nday), frzn(ncell, 6, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(ncell, ndg, nstore)
      real(dp), intent(inout) :: annual(ncell, ndg)
      integer, intent(out) :: ierr
      call advance_casa_impl(ncell, nday, icycle, doy0, fixes, nfix, params, npar, state, nst, &
                             gpp, tair, ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, &
                             store_daily, nstore, daily, ndg, annual, ierr)
   end subroutine advance_casa

   !> State side effects of the original's restart-file write (casa.md Q5).
   subroutine casa_restart_write_reset(ncell, icycle, params, npar, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, npar, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      call casa_restart_write_reset_impl(ncell, icycle, params, npar, state, nst, ierr)
   end subroutine casa_restart_write_reset

   !> Cold-start or restart initialisation of the MIMICS pools (mimics.md 7.1, 7.2).
   subroutine mimics_initialise(ncell, icycle, cold_start, params, npar, mparams, nmp, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, npar, nmp, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: mparams(ncell, nmp)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      call mimics_initialise_impl(ncell, icycle, cold_start, params, npar, mparams, nmp, state, nst, ierr)
   end subroutine mimics_initialise

   !> Advance CASA-CNP vegetation + MIMICS soil by nday days of one year.
   subroutine advance_mimics(ncell, nday, icycle, doy0, init_npp_prev, fixes, nfix, params, npar, &
                             mparams, nmp, state, nst, gpp, tair, ndep, tsoil, moist, frzn, &
                             dtair, dtsoil, npp_scalar, store_daily, nstore, daily, ndg, annual, ierr)
      integer, intent(in) :: ncell, nday, icycle, doy0, init_npp_prev, nfix, npar, nmp, nst
      integer, intent(in) :: store_daily, nstore, ndg
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: mparams(ncell, nmp)
      real(dp), intent(inout) :: state(ncell, nst)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, 6, nday), moist(ncell, 6, nday), frzn(ncell, 6, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(ncell, ndg, nstore)
      real(dp), intent(inout) :: annual(ncell, ndg)
      integer, intent(out) :: ierr
      call advance_mimics_impl(ncell, nday, icycle, doy0, init_npp_prev, fixes, nfix, params, npar, &
                               mparams, nmp, state, nst, gpp, tair, ndep, tsoil, moist, frzn, &
                               dtair, dtsoil, npp_scalar, store_daily, nstore, daily, ndg, annual, ierr)
   end subroutine advance_mimics

   !> Cold-start or restart initialisation of the CORPSE pools (docs/corpse.md 4).
   subroutine corpse_initialise(ncell, icycle, cold_start, params, npar, cparams, ncp, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, npar, ncp, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: cparams(ncell, ncp)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      call corpse_initialise_impl(ncell, icycle, cold_start, params, npar, cparams, ncp, state, nst, ierr)
   end subroutine corpse_initialise

   !> Advance CASA-CNP vegetation + CORPSE soil (C only) by nday days of one year.
   subroutine advance_corpse(ncell, nday, icycle, doy0, first_year, fixes, nfix, params, npar, &
                             cparams, ncp, state, nst, gpp, tair, ndep, tsoil, moist, frzn, &
                             dtair, dtsoil, npp_scalar, store_daily, nstore, daily, ndg, annual, ierr)
      integer, intent(in) :: ncell, nday, icycle, doy0, first_year, nfix, npar, ncp, nst
      integer, intent(in) :: store_daily, nstore, ndg
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: cparams(ncell, ncp)
      real(dp), intent(inout) :: state(ncell, nst)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, 6, nday), moist(ncell, 6, nday), frzn(ncell, 6, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(ncell, ndg, nstore)
      real(dp), intent(inout) :: annual(ncell, ndg)
      integer, intent(out) :: ierr
      call advance_corpse_impl(ncell, nday, icycle, doy0, first_year, fixes, nfix, params, npar, &
                               cparams, ncp, state, nst, gpp, tair, ndep, tsoil, moist, frzn, &
                               dtair, dtsoil, npp_scalar, store_daily, nstore, daily, ndg, annual, ierr)
   end subroutine advance_corpse

end module testbed_kernel
