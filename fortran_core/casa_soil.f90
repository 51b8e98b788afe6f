!> CASA-CN litter and soil organic matter (spec casa.md 4.10, 4.11, 4.15, 4.16).
!>
!> Same conventions as casa_veg: chunks of ncell cells, (ncell) / (ncell,3) arrays
!> with cells fastest; litter index 1..3 = met, str, cwd; soil 1..3 = mic, slow, pass.
!> Transfer matrices are stored as ltos(ncell, dest_soil, src_litter) = L(dest<-src)
!> and stos(ncell, dest_soil, src_soil) = S(dest<-src) (diagonal -1).
!>
!> Public routines
!>  casa_transfer_coeffs(ncell, params, ltos, stos, lco2, sco2)   time-invariant part of 4.11
!>  casa_xratesoil(ncell, params, tsoilavg, moistavg, thetaliq, ft, fw, xklitter, xksoil)  4.10
!>  casa_soil_rate_factors(ncell, params, kfac)                      time-invariant part of 4.11 (rates)
!>  casa_coeffsoil(ncell, params, kfac, xklitter, xksoil, klitter, ksoil)              4.11
!>  casa_delsoil(ncell, params, icycle, klitter, ksoil, ltos, stos, lco2, sco2, rnew,
!>               clitter, csoil, nlitter, nsoil, nsoilmin, tsoilavg, ndep, nuptake,
!>               fluxc_lit, fluxn_lit, dclitter, dcsoil, dnlitter, dnsoil, dnsoilmin,
!>               crsoil, cpassinpt, cwd2str, nlittermin, nsmin, nsimm, nsnet, nloss, nleach,
!>               nsrc_q9)                                                          4.15
!>  casa_soil_update(ncell, params, icycle, dclitter, dcsoil, dnlitter, dnsoil, dnsoilmin,
!>                   clitter, csoil, nlitter, nsoil, nsoilmin, csrc, nsrc, nneg) 4.16 steps 4-6
module casa_soil
   use tb_precision, only: dp, TKZERO, DELTCASA
   use tb_layout
   use casa_veg, only: cell_active, inint
   use tb_moisture, only: vg_psi, f_psi, fw_wfps, no_moisture_limit
   implicit none
   private
   public :: casa_transfer_coeffs, casa_xratesoil, casa_soil_rate_factors, casa_coeffsoil, casa_delsoil
   public :: casa_soil_update
   integer, parameter, public :: NKFAC = 9   !< columns of casa_soil_rate_factors' kfac

contains

   ! ------------------------------------------------------------------ 4.11 (fractions)
   subroutine casa_transfer_coeffs(ncell, params, ltos, stos, lco2, sco2)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(out) :: ltos(ncell, 3, 3), stos(ncell, 3, 3), lco2(ncell, 3), sco2(ncell, 3)
      real(dp) :: lig_leaf, lig_wood, cl, si, s
      integer :: n, j, k, kk
      do n = 1, ncell
         ltos(n, :, :) = 0.0_dp
         stos(n, :, :) = 0.0_dp
         do k = 1, 3
            stos(n, k, k) = -1.0_dp
         end do
         lco2(n, :) = 0.0_dp
         sco2(n, :) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         lig_leaf = params(n, P_LIG_LEAF)
         lig_wood = params(n, P_LIG_WOOD)
         cl = params(n, P_CLAY)
         si = params(n, P_SILT)
         ltos(n, 1, 1) = params(n, P_CUE_METB_MIC)
         ltos(n, 1, 2) = params(n, P_CUE_STR_MIC)*(1.0_dp - lig_leaf)
         ltos(n, 2, 2) = params(n, P_CUE_STR_SLOW)*lig_leaf
         ltos(n, 1, 3) = params(n, P_CUE_CWD_MIC)*(1.0_dp - lig_wood)
         ltos(n, 2, 3) = params(n, P_CUE_CWD_SLOW)*lig_wood
         stos(n, 2, 1) = (params(n, P_CUE_MIC_SLOW)*(0.85_dp - 0.68_dp*(cl + si)))*(0.997_dp - 0.032_dp*cl)
         stos(n, 3, 1) = (params(n, P_CUE_MIC_PASS)*(0.85_dp - 0.68_dp*(cl + si)))*(0.003_dp + 0.032_dp*cl)
         stos(n, 3, 2) = params(n, P_CUE_PASS_SLOW)*(0.003_dp + 0.009_dp*cl)
         do j = 1, 3
            s = 0.0_dp
            do k = 1, 3
               s = s + ltos(n, k, j)
            end do
            lco2(n, j) = 1.0_dp - s
         end do
         do k = 1, 3
            s = 0.0_dp
            do kk = 1, 3
               s = s + stos(n, kk, k)
            end do
            sco2(n, k) = -s
         end do
      end do
   end subroutine casa_transfer_coeffs

   ! ------------------------------------------------------------------ 4.10
   !> With P_FW_PSI on, fW = max(fw_min, f_psi(psi(moistavg))) (seed_processes.md 2.3) and psi (hPa) is
   !> returned; else psi is left as it is. The host's fW = 1 of IGBP types 12 and 14 is kept.
   subroutine casa_xratesoil(ncell, params, tsoilavg, moistavg, thetaliq, ft, fw, xklitter, xksoil, psi)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: tsoilavg(ncell), moistavg(ncell)
      real(dp), intent(out) :: thetaliq(ncell), ft(ncell), fw(ncell), xklitter(ncell), xksoil(ncell)
      real(dp), intent(inout) :: psi(ncell)
      real(dp) :: fwps
      integer :: n
      logical :: crop
      do n = 1, ncell
         thetaliq(n) = 0.0_dp
         ft(n) = 0.0_dp
         fw(n) = 0.0_dp
         xklitter(n) = 1.0_dp
         xksoil(n) = 1.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         fwps = min(1.0_dp, moistavg(n)/params(n, P_SSAT))
         ft(n) = params(n, P_Q10SOIL)**(0.1_dp*((tsoilavg(n) - TKZERO) - 35.0_dp))
         crop = no_moisture_limit(inint(params(n, P_IVEG)))
         if (params(n, P_FW_PSI) /= 0.0_dp) then
            psi(n) = vg_psi(moistavg(n), params(n, P_VG_THETA_R), params(n, P_SSAT), params(n, P_VG_ALPHA), &
                            params(n, P_VG_N))
            fw(n) = max(params(n, P_FW_MIN), f_psi(psi(n)))
         else if (.not. crop) then
            fw(n) = fw_wfps(fwps)
         end if
         if (crop) fw(n) = 1.0_dp
         xklitter(n) = (params(n, P_XKOPTLITTER)*ft(n))*fw(n)
         xksoil(n) = (params(n, P_XKOPTSOIL)*ft(n))*fw(n)
         thetaliq(n) = fwps
      end do
   end subroutine casa_xratesoil

   ! ------------------------------------------------------------------ 4.11 (rates)
   !> The time-invariant factors of casa_coeffsoil's rates, once per cell (their values are the same as if
   !> computed every day): kfac(:, 1:6) = DELTCASA / turnover age of met, str, cwd, mic, slow, pass;
   !> kfac(:, 7) = exp(-3 lignin_leaf); kfac(:, 8) = 1 - 0.75 (silt + clay); kfac(:, 9) = 1 for IGBP type 12.
   subroutine casa_soil_rate_factors(ncell, params, kfac)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(out) :: kfac(ncell, NKFAC)
      integer :: n
      do n = 1, ncell
         kfac(n, 1) = DELTCASA/params(n, P_AGE_MET)
         kfac(n, 2) = DELTCASA/params(n, P_AGE_STR)
         kfac(n, 3) = DELTCASA/params(n, P_AGE_CWD)
         kfac(n, 4) = DELTCASA/params(n, P_AGE_MIC)
         kfac(n, 5) = DELTCASA/params(n, P_AGE_SLOW)
         kfac(n, 6) = DELTCASA/params(n, P_AGE_PASS)
         kfac(n, 7) = exp(-3.0_dp*params(n, P_LIG_LEAF))
         kfac(n, 8) = 1.0_dp - 0.75_dp*(params(n, P_SILT) + params(n, P_CLAY))
         kfac(n, 9) = merge(1.0_dp, 0.0_dp, inint(params(n, P_IVEG)) == 12)
      end do
   end subroutine casa_soil_rate_factors

   subroutine casa_coeffsoil(ncell, params, kfac, xklitter, xksoil, klitter, ksoil)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM), kfac(ncell, NKFAC)
      real(dp), intent(in) :: xklitter(ncell), xksoil(ncell)
      real(dp), intent(out) :: klitter(ncell, 3), ksoil(ncell, 3)
      real(dp) :: k1, k2, k3
      logical :: act, grass12
      integer :: n
      do n = 1, ncell
         act = cell_active(params(n, P_IVT2))
         grass12 = kfac(n, 9) /= 0.0_dp
         klitter(n, 1) = merge(xklitter(n)*kfac(n, 1), 0.0_dp, act)
         klitter(n, 2) = merge((xklitter(n)*kfac(n, 2))*kfac(n, 7), 0.0_dp, act)
         klitter(n, 3) = merge(xklitter(n)*kfac(n, 3), 0.0_dp, act)
         k1 = (xksoil(n)*kfac(n, 4))*kfac(n, 8)
         k2 = xksoil(n)*kfac(n, 5)
         k3 = xksoil(n)*kfac(n, 6)
         ksoil(n, 1) = merge(merge(k1*1.25_dp, k1, grass12), 0.0_dp, act)
         ksoil(n, 2) = merge(merge(k2*1.5_dp, k2, grass12), 0.0_dp, act)
         ksoil(n, 3) = merge(merge(k3*1.5_dp, k3, grass12), 0.0_dp, act)
      end do
   end subroutine casa_coeffsoil

   ! ------------------------------------------------------------------ 4.15
   subroutine casa_delsoil(ncell, params, icycle, klitter, ksoil, ltos, stos, lco2, sco2, rnew, &
                           clitter, csoil, nlitter, nsoil, nsoilmin, tsoilavg, ndep, nuptake, &
                           fluxc_lit, fluxn_lit, dclitter, dcsoil, dnlitter, dnsoil, dnsoilmin, &
                           crsoil, cpassinpt, cwd2str, nlittermin, nsmin, nsimm, nsnet, nloss, nleach, &
                           nsrc_q9, exud)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: klitter(ncell, 3), ksoil(ncell, 3)
      real(dp), intent(in) :: ltos(ncell, 3, 3), stos(ncell, 3, 3), lco2(ncell, 3), sco2(ncell, 3)
      real(dp), intent(in) :: rnew(ncell, 3)
      real(dp), intent(in) :: clitter(ncell, 3), csoil(ncell, 3), nlitter(ncell, 3), nsoil(ncell, 3)
      real(dp), intent(in) :: nsoilmin(ncell), tsoilavg(ncell), ndep(ncell), nuptake(ncell)
      real(dp), intent(in) :: fluxc_lit(ncell, 3), fluxn_lit(ncell, 3)
      real(dp), intent(out) :: dclitter(ncell, 3), dcsoil(ncell, 3), dnlitter(ncell, 3), dnsoil(ncell, 3)
      real(dp), intent(out) :: dnsoilmin(ncell), crsoil(ncell), cpassinpt(ncell), cwd2str(ncell)
      real(dp), intent(out) :: nlittermin(ncell), nsmin(ncell), nsimm(ncell), nsnet(ncell)
      real(dp), intent(out) :: nloss(ncell), nleach(ncell)
      real(dp), intent(out) :: nsrc_q9(ncell)   !< N created by the max(0, N_litter) of Q9
      !> root exudate of route 1 (seed_processes.md 1.4): C into the microbial pool, C respired, N
      real(dp), intent(in), optional :: exud(ncell, 3)
      ! Cells innermost (every loop below is over n), so that the arithmetic vectorises across cells; each
      ! cell's operations and their order are those of the spec, so results do not depend on it. Inactive
      ! (ice/water) cells are computed along and their outputs set to 0 at the end.
      ! fc(n, k, j): C flux litter j -> soil k; fs(n, k, kk): C flux soil kk -> soil k (kk /= k).
      real(dp) :: fc(ncell, 3, 3), fs(ncell, 3, 3), fcs(ncell, 3), hr(ncell), fns(ncell)
      real(dp) :: fnminloss, fnminleach, nsm, nfix
      integer :: n, j, k, kk
      do j = 1, 3
         do k = 1, 3
            do n = 1, ncell
               fc(n, k, j) = (ltos(n, k, j)*klitter(n, j))*clitter(n, j)
               fs(n, k, j) = (stos(n, k, j)*ksoil(n, j))*csoil(n, j)
            end do
         end do
      end do
      do n = 1, ncell
         hr(n) = 0.0_dp
      end do
      do j = 1, 3
         do n = 1, ncell
            hr(n) = hr(n) + (lco2(n, j)*klitter(n, j))*clitter(n, j)
         end do
      end do
      do k = 1, 3
         do n = 1, ncell
            fcs(n, k) = 0.0_dp
         end do
         do j = 1, 3
            do n = 1, ncell
               fcs(n, k) = fcs(n, k) + fc(n, k, j)
            end do
         end do
         do kk = 1, 3
            if (kk == k) cycle
            do n = 1, ncell
               fcs(n, k) = fcs(n, k) + fs(n, k, kk)
            end do
         end do
         do n = 1, ncell
            hr(n) = hr(n) + (sco2(n, k)*ksoil(n, k))*csoil(n, k)
         end do
      end do
      if (present(exud)) then
         do n = 1, ncell
            fcs(n, 1) = fcs(n, 1) + exud(n, 1)
            hr(n) = hr(n) + exud(n, 2)
         end do
      end if
      do n = 1, ncell
         crsoil(n) = hr(n)
         cpassinpt(n) = fcs(n, 3)
         cwd2str(n) = ((0.0_dp + fc(n, 1, 3)) + fc(n, 2, 3)) + fc(n, 3, 3)
      end do
      do j = 1, 3
         do n = 1, ncell
            dclitter(n, j) = fluxc_lit(n, j) - klitter(n, j)*clitter(n, j)
            dcsoil(n, j) = fcs(n, j) - ksoil(n, j)*csoil(n, j)
         end do
      end do
      do n = 1, ncell
         call zero_n_fluxes(n)
      end do
      do j = 1, 3
         do n = 1, ncell
            dnlitter(n, j) = 0.0_dp
            dnsoil(n, j) = 0.0_dp
         end do
      end do
      if (icycle > 1) then
         do j = 1, 3
            do n = 1, ncell
               nlittermin(n) = nlittermin(n) + klitter(n, j)*nlitter(n, j)
            end do
         end do
         do k = 1, 3
            do n = 1, ncell
               nsmin(n) = nsmin(n) + ksoil(n, k)*nsoil(n, k)
            end do
         end do
         do kk = 1, 3
            do j = 1, 3
               do n = 1, ncell
                  nsimm(n) = nsimm(n) - fc(n, kk, j)*rnew(n, kk)
               end do
            end do
            do k = 1, 3
               if (k == kk) cycle
               do n = 1, ncell
                  nsimm(n) = nsimm(n) - fs(n, kk, k)*rnew(n, kk)
               end do
            end do
         end do
         if (present(exud)) then
            ! route 1 bypasses xkN: the exudate N is mineralised, the new microbial SOM immobilises
            do n = 1, ncell
               nlittermin(n) = nlittermin(n) + exud(n, 3)
               nsimm(n) = nsimm(n) - exud(n, 1)*rnew(n, 1)
            end do
         end if
         do n = 1, ncell
            nsnet(n) = (nlittermin(n) + nsmin(n)) + nsimm(n)
            nsm = nsoilmin(n)
            fnminloss = params(n, P_XNMINLOSS)
            fnminleach = (10.0_dp*params(n, P_XNLEACH))*DELTCASA
            if (nsm > 2.0_dp .and. tsoilavg(n) > 273.12_dp) then
               nloss(n) = fnminloss*max(0.0_dp, nsnet(n))
               nleach(n) = fnminleach*max(0.0_dp, nsm)
            else
               nloss(n) = (fnminloss*max(0.0_dp, nsnet(n)))*max(0.0_dp, nsm/2.0_dp)
               nleach(n) = (fnminleach*max(0.0_dp, nsm))*max(0.0_dp, nsm/2.0_dp)
            end if
         end do
         do k = 1, 3
            do n = 1, ncell
               fns(n) = 0.0_dp
            end do
            do j = 1, 3
               do n = 1, ncell
                  fns(n) = fns(n) + fc(n, k, j)*rnew(n, k)
               end do
            end do
            do kk = 1, 3
               if (kk == k) cycle
               do n = 1, ncell
                  fns(n) = fns(n) + fs(n, k, kk)*rnew(n, k)
               end do
            end do
            if (k == 1 .and. present(exud)) then
               do n = 1, ncell
                  fns(n) = fns(n) + exud(n, 1)*rnew(n, 1)
               end do
            end if
            do n = 1, ncell
               dnsoil(n, k) = fns(n) - ksoil(n, k)*nsoil(n, k)
            end do
         end do
         do j = 1, 3
            do n = 1, ncell
               dnlitter(n, j) = fluxn_lit(n, j) - klitter(n, j)*max(0.0_dp, nlitter(n, j))
               nsrc_q9(n) = nsrc_q9(n) + (klitter(n, j)*nlitter(n, j) - klitter(n, j)*max(0.0_dp, nlitter(n, j)))
            end do
         end do
         do n = 1, ncell
            nfix = params(n, P_NFIXRATE)/365.0_dp
            dnsoilmin(n) = ((((nsnet(n) + ndep(n)) + nfix) - nloss(n)) - nleach(n)) - nuptake(n)
         end do
      end if
      do n = 1, ncell
         if (cell_active(params(n, P_IVT2))) cycle
         dclitter(n, :) = 0.0_dp
         dcsoil(n, :) = 0.0_dp
         dnlitter(n, :) = 0.0_dp
         dnsoil(n, :) = 0.0_dp
         crsoil(n) = 0.0_dp
         cpassinpt(n) = 0.0_dp
         cwd2str(n) = 0.0_dp
         call zero_n_fluxes(n)
      end do

   contains

      !> cell n's N fluxes 0 (accumulators start there; C-only runs and inactive cells keep it)
      subroutine zero_n_fluxes(n)
         integer, intent(in) :: n
         nlittermin(n) = 0.0_dp
         nsmin(n) = 0.0_dp
         nsimm(n) = 0.0_dp
         nsnet(n) = 0.0_dp
         nloss(n) = 0.0_dp
         nleach(n) = 0.0_dp
         nsrc_q9(n) = 0.0_dp
         dnsoilmin(n) = 0.0_dp
      end subroutine zero_n_fluxes
   end subroutine casa_delsoil

   ! ------------------------------------------------------------------ 4.16 (litter, soil)
   subroutine casa_soil_update(ncell, params, icycle, dclitter, dcsoil, dnlitter, dnsoil, dnsoilmin, &
                               clitter, csoil, nlitter, nsoil, nsoilmin, csrc, nsrc, nneg)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: dclitter(ncell, 3), dcsoil(ncell, 3), dnlitter(ncell, 3), dnsoil(ncell, 3)
      real(dp), intent(in) :: dnsoilmin(ncell)
      real(dp), intent(inout) :: clitter(ncell, 3), csoil(ncell, 3), nlitter(ncell, 3), nsoil(ncell, 3)
      real(dp), intent(inout) :: nsoilmin(ncell)
      real(dp), intent(out) :: csrc(ncell), nsrc(ncell)   !< mass created by the clamps
      real(dp), intent(out) :: nneg(ncell)                !< number of pools reset from negative to 0
      integer :: n, j
      do n = 1, ncell
         csrc(n) = 0.0_dp
         nsrc(n) = 0.0_dp
         nneg(n) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         do j = 1, 3
            clitter(n, j) = clitter(n, j) + dclitter(n, j)*1.0_dp
            csoil(n, j) = csoil(n, j) + dcsoil(n, j)*1.0_dp
         end do
         if (icycle > 1) then
            do j = 1, 3
               nlitter(n, j) = nlitter(n, j) + dnlitter(n, j)*1.0_dp
               nsoil(n, j) = nsoil(n, j) + dnsoil(n, j)*1.0_dp
            end do
            nsoilmin(n) = nsoilmin(n) + dnsoilmin(n)*1.0_dp
         end if
         do j = 1, 3
            if (clitter(n, j) < 0.0_dp) then
               csrc(n) = csrc(n) - clitter(n, j)
               nneg(n) = nneg(n) + 1.0_dp
               clitter(n, j) = 0.0_dp
            end if
            if (csoil(n, j) < 0.0_dp) then
               csrc(n) = csrc(n) - csoil(n, j)
               nneg(n) = nneg(n) + 1.0_dp
               csoil(n, j) = 0.0_dp
            end if
         end do
         if (icycle > 1) then
            do j = 1, 3
               if (nlitter(n, j) < 0.0_dp) then
                  nsrc(n) = nsrc(n) - nlitter(n, j)
                  nneg(n) = nneg(n) + 1.0_dp
                  nlitter(n, j) = 0.0_dp
               end if
               if (nsoil(n, j) < 0.0_dp) then
                  nsrc(n) = nsrc(n) - nsoil(n, j)
                  nneg(n) = nneg(n) + 1.0_dp
                  nsoil(n, j) = 0.0_dp
               end if
            end do
         end if
      end do
   end subroutine casa_soil_update

end module casa_soil
