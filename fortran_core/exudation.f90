!> Root exudation as a conserving input with its own C:N (seed_processes.md 1; docs/exudation.md).
!>
!> Per-cell switches are columns of the CASA parameter array (P_EXUD_*); all 0 is the legacy hook of
!> the original (casa.md 4.7, Q6): the drivers then call casa_exudation as before and nothing here runs.
!>   exud_mode 0 legacy: Cex = s(d) fracRootExud GPP, taken from GPP after NPP (created), no N;
!>             1 plant: Cex = min(s(d) fracRootExud GPP, max(0, NPP)), debited from NPP (and GPP);
!>               Nex = min(Cex/CNexud, max(0, Nplant(froot))), debited from the fine-root N tendency;
!>             2 prescribed: Cex = s(d) exud_flux, Nex = Cex/CNexud, from outside the plant.
!>   exud_cn   exudate C:N; 0 = N-free.
!>   s(d)      1 (continuous) or the pulse schedule of 1.5 (exud_schedule).
module tb_exudation
   use tb_precision, only: dp
   use tb_layout
   use casa_veg, only: cell_active, inint
   implicit none
   private
   public :: exudation_on, exud_schedule, exudation_source, exudation_plant_n, exudation_q12

   integer, parameter, public :: EXUD_LEGACY = 0, EXUD_PLANT = 1, EXUD_PRESCRIBED = 2

contains

   !> True if any cell of a block uses an exudation option (a mode other than legacy, or a schedule).
   logical function exudation_on(nb, params)
      integer, intent(in) :: nb
      real(dp), intent(in) :: params(nb, NCASAPARAM)
      exudation_on = any(params(:, P_EXUD_MODE) /= 0.0_dp) .or. any(params(:, P_EXUD_PULSE) /= 0.0_dp)
   end function exudation_on

   !> The schedule factor s(d) of day of year doy for one cell (1.5): on the pulse days
   !> d0 + i Tp + j (i < np, j < dp) s = A, on all other days s = sbg; 1 without pulses.
   pure real(dp) function exud_schedule(prow, doy) result(s)
      real(dp), intent(in) :: prow(NCASAPARAM)
      integer, intent(in) :: doy
      integer :: k, tp
      s = 1.0_dp
      if (prow(P_EXUD_PULSE) == 0.0_dp) return
      s = prow(P_EXUD_SBG)
      k = doy - inint(prow(P_EXUD_D0))
      tp = max(1, inint(prow(P_EXUD_TP)))
      if (k < 0) return
      if (k/tp < inint(prow(P_EXUD_NP)) .and. mod(k, tp) < inint(prow(P_EXUD_DP))) s = prow(P_EXUD_AMP)
   end function exud_schedule

   !> The day's exudate of nb cells at the host exudation step (1.2): cexud, nexud (g m-2 d-1), the C the
   !> legacy mode creates (cexq), the N from outside the plant (nexext) and the C capped by NPP (ccap).
   !> gppd is reduced by the exudate in modes 0 and 1 (as the original does in mode 0), npp in mode 1.
   !> nfroot: start-of-day fine-root N.
   subroutine exudation_source(nb, doy, icycle, params, nfroot, gppd, npp, cexud, nexud, cexq, nexext, ccap)
      integer, intent(in) :: nb, doy, icycle
      real(dp), intent(in) :: params(nb, NCASAPARAM), nfroot(nb)
      real(dp), intent(inout) :: gppd(nb), npp(nb)
      real(dp), intent(out) :: cexud(nb), nexud(nb), cexq(nb), nexext(nb), ccap(nb)
      integer :: n
      real(dp) :: s, c, want, cn
      do n = 1, nb
         cexud(n) = 0.0_dp
         nexud(n) = 0.0_dp
         cexq(n) = 0.0_dp
         nexext(n) = 0.0_dp
         ccap(n) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         s = exud_schedule(params(n, :), doy)
         cn = params(n, P_EXUD_CN)
         select case (inint(params(n, P_EXUD_MODE)))
         case (EXUD_PLANT)
            if (gppd(n) > 0.0_dp) then
               want = s*(params(n, P_FRACROOTEXUD)*gppd(n))
               c = max(0.0_dp, min(want, max(0.0_dp, npp(n))))
               ccap(n) = want - c
               cexud(n) = c
               gppd(n) = gppd(n) - c
               npp(n) = npp(n) - c
               if (icycle > 1 .and. cn > 0.0_dp) nexud(n) = min(c/cn, max(0.0_dp, nfroot(n)))
            end if
         case (EXUD_PRESCRIBED)
            c = s*params(n, P_EXUD_FLUX)
            cexud(n) = c
            if (icycle > 1 .and. cn > 0.0_dp) nexud(n) = c/cn
            nexext(n) = nexud(n)
         case default
            ! legacy: the original's expression, times the schedule factor
            if (gppd(n) > 0.0_dp) then
               c = s*max(0.0_dp, params(n, P_FRACROOTEXUD)*gppd(n))
               cexud(n) = c
               gppd(n) = gppd(n) - c
               cexq(n) = c
            end if
         end select
      end do
   end subroutine exudation_source

   !> Mode 1: debit the exudate N from the fine-root N tendency dnplant(:, 3) (1.2).
   subroutine exudation_plant_n(nb, params, nexud, dnplant)
      integer, intent(in) :: nb
      real(dp), intent(in) :: params(nb, NCASAPARAM), nexud(nb)
      real(dp), intent(inout) :: dnplant(nb, 3)
      integer :: n
      do n = 1, nb
         if (inint(params(n, P_EXUD_MODE)) == EXUD_PLANT) dnplant(n, 3) = dnplant(n, 3) - nexud(n)
      end do
   end subroutine exudation_plant_n

   !> Mode 1, after the plant update: where the host discarded the plant N tendencies (new leaf C <= 0,
   !> casa.md Q12) the exudate N never left the plant, so it is 0 for the soil and not part of the
   !> discarded N booked in nsrc.
   subroutine exudation_q12(nb, params, cleaf, nexud, nsrc)
      integer, intent(in) :: nb
      real(dp), intent(in) :: params(nb, NCASAPARAM), cleaf(nb)
      real(dp), intent(inout) :: nexud(nb), nsrc(nb)
      integer :: n
      do n = 1, nb
         if (inint(params(n, P_EXUD_MODE)) /= EXUD_PLANT .or. .not. cell_active(params(n, P_IVT2))) cycle
         if (cleaf(n) <= 0.0_dp) then
            nsrc(n) = nsrc(n) - nexud(n)
            nexud(n) = 0.0_dp
         end if
      end do
   end subroutine exudation_q12

end module tb_exudation
