!> Column layout of the arrays that cross the Python/Fortran boundary.
!>
!> The named column indices (S_* state, P_* CASA parameters, M_* MIMICS parameters, D_* diagnostics,
!> FIX_* options), their counts, the ERR_* codes and NSOIL_LAYERS come from the generated module
!> tb_columns (fortran_core/gen_layout.py, from testbed/layout.toml and testbed/soil/*.toml) and are
!> re-exported here. Every array is (ncell, ncolumn) with cells fastest, so that a column is
!> contiguous and the per-cell loops vectorise.
module tb_layout
   use tb_columns
   implicit none
   public

   !> keep_day's ``kept`` when the caller adds no column itself
   logical, parameter :: NONE_KEPT(NDIAG) = .false.

contains

   !> Error code of the uniform arguments of an advance call (ERR_OK if valid): ERR_BAD_LAYOUT unless the host
   !> arrays have the layout's column counts (CASA parameters, state, diagnostics, fixes) and the soil model's
   !> parameter array its own (nsp = nsp_layout; 0, 0 for a model without one); else ERR_BAD_ARGUMENT unless
   !> icycle is 1 or 2, days doy0 .. doy0+nday-1 lie within one 365-day year and the daily output has room.
   pure integer function advance_argument_error(npar, nsp, nsp_layout, nst, ndg, nfix, icycle, nday, doy0, &
                                                store_daily, nstore) result(ierr)
      integer, intent(in) :: npar, nsp, nsp_layout, nst, ndg, nfix, icycle, nday, doy0, store_daily, nstore
      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nsp /= nsp_layout .or. nst /= NSTATE .or. ndg /= NDIAG .or. nfix /= NFIX) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      if (icycle < 1 .or. icycle > 2 .or. nday < 1 .or. doy0 < 1 .or. doy0 + nday - 1 > 365) ierr = ERR_BAD_ARGUMENT
      if (store_daily /= 0 .and. nstore < nday) ierr = ERR_BAD_ARGUMENT
   end function advance_argument_error

   !> One day's diagnostics ``dg`` (cell block, NDIAG) added to the annual sums and, when ``store``, copied to the
   !> day's daily slice: only the host's columns and the running soil model's own block ``first:last``
   !> (``DIAG_<MODEL>_FIRST/LAST``; pass 1, 0 for none), but not the columns ``kept``: those the caller has added
   !> and stored itself, or that stay zero in this call (a diagnostic block whose routine is off). The other columns
   !> stay as the caller zeroed them, so a run does not pay for the columns of soil models it does not use (or of its
   !> own soil model's block when it passes 1, 0).
   pure subroutine keep_day(nb, dg, kept, annual, daily_day, store, first, last)
      integer, intent(in) :: nb, first, last
      real(real64), intent(in) :: dg(nb, NDIAG)
      logical, intent(in) :: kept(NDIAG)
      real(real64), intent(inout) :: annual(nb, NDIAG), daily_day(nb, NDIAG)
      logical, intent(in) :: store
      integer :: j
      do j = 1, NDIAG
         if (kept(j) .or. (j > DIAG_HOST_LAST .and. (j < first .or. j > last))) cycle
         annual(:, j) = annual(:, j) + dg(:, j)
         if (store) daily_day(:, j) = dg(:, j)
      end do
   end subroutine keep_day
end module tb_layout
