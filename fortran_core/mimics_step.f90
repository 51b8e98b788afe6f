!> CASA-CNP vegetation + MIMICS soil: initialisation and the daily driver.
!>
!> Spec: mimics.md 3.2 (order of one day), 3.4 (previous-year NPP), 7.1/7.2
!> (cold start, restart clamps). The shared vegetation steps come from module
!> casa_veg; the MIMICS-specific steps from module mimics_soil.
!> Entry points (argument lists exactly those of docs/kernel.md):
!>   mimics_initialise_impl, advance_mimics_impl.
!>
!> S_NPP_PREV convention: a value <= NPP_PREV_UNSET_BELOW (-99.0) or NaN means
!> "not provided" (the cold start stores -99.9 like the original's main
!> program). With init_npp_prev /= 0 the kernel sets S_NPP_PREV from half the
!> year's GPP (mimics.md 3.4, Q10) unless fixes(FIX_MIMICS_FIRST_YEAR_NPP) /= 0
!> and S_NPP_PREV holds a provided value (e.g. from a restart). Initialising
!> from GPP needs the whole year's forcing: init_npp_prev /= 0 requires
!> doy0 == 1 and nday == 365 (else ERR_BAD_ARGUMENT).
module mimics_step
   use tb_precision, only: dp, sp, TKZERO
   use tb_layout
   use casa_veg, only: casa_root_fractions, casa_phenology, casa_avgsoil, casa_avg_layers, &
                       casa_rplant, casa_allocation, casa_xrateplant, casa_exudation, casa_xnp, &
                       casa_xkn2, casa_nuptake, casa_end_of_day_np
   use mimics_soil
   implicit none
   private

   public :: mimics_initialise_impl, advance_mimics_impl

   real(dp), parameter :: NPP_PREV_UNSET = -99.9_dp
   real(dp), parameter :: NPP_PREV_UNSET_BELOW = -99.0_dp

contains

   ! ---------------------------------------------------------------------------
   !> mimics.md 7.1 (cold_start = 1) and the restart clamps of 7.2 (cold_start = 0,
   !> after Python copied the restart pools into the state). CASA pools are
   !> initialised separately by casa_initialise_impl.
   subroutine mimics_initialise_impl(ncell, icycle, cold_start, params, npar, mparams, nmp, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, npar, nmp, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: mparams(ncell, nmp)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      integer :: i, k
      real(dp) :: c0(7), n0(7)

      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nmp /= NMIMICSPARAM .or. nst /= NSTATE) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      if (icycle < 1 .or. icycle > 2) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      do i = 1, ncell
         ! cold-start pools (mg cm-3); icewater cells hold 0
         if (nint(params(i, P_IVT2)) /= 0) then
            c0 = [1.0_dp, 1.0_dp, 0.015_dp, 0.025_dp, 1.0_dp, 1.0_dp, 1.0_dp]
            n0(1) = c0(1)/10.0_dp
            n0(2) = c0(2)/10.0_dp
            n0(3) = c0(3)/mparams(i, M_CNR)
            n0(4) = c0(4)/mparams(i, M_CNK)
            n0(5) = c0(5)/10.0_dp
            n0(6) = c0(6)/10.0_dp
            n0(7) = c0(7)/10.0_dp
         else
            c0 = 0.0_dp
            n0 = 0.0_dp
         end if
         if (cold_start /= 0) then
            state(i, S_LITM:S_SOMP) = c0
            state(i, S_LITMN:S_SOMPN) = n0
            state(i, S_NPP_PREV) = NPP_PREV_UNSET
         else if (icycle < 2) then
            ! a C-only restart holds no N pools: they keep the cold-start values
            state(i, S_LITMN:S_SOMPN) = n0
         end if
         do k = S_LITM, S_SOMPN
            state(i, k) = max(0.0_dp, state(i, k))
         end do
      end do
   end subroutine mimics_initialise_impl

   ! ---------------------------------------------------------------------------
   !> nday days (doy0 .. doy0+nday-1 of one 365-day year) of CASA vegetation +
   !> MIMICS soil; days outer, cells inner. See docs/kernel.md.
   subroutine advance_mimics_impl(ncell, nday, icycle, doy0, init_npp_prev, fixes, nfix, params, npar, &
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

      real(dp), allocatable :: cp(:, :), q(:, :), froot(:, :), tsl(:, :), msl(:, :), fzl(:, :), dg(:, :)
      real(dp), allocatable :: gppd(:), taird(:), tsoilavg(:), moistavg(:), frznavg(:), btran(:)
      real(dp), allocatable :: rm(:, :), rg(:), npp(:), npp0(:), clabloss(:), fracc(:, :)
      real(dp), allocatable :: kcold(:), kdry(:), xkleaf(:), cexud(:), fracclabile(:)
      real(dp), allocatable :: xkn(:), rnew(:, :), nuptake(:), fracnalloc(:, :), ndepd(:)
      real(dp), allocatable :: csrc(:), nsrc(:), nneg(:)
      logical :: active, keep_prev
      integer :: i, d, doy, k
      real(dp) :: u, s, x

      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nmp /= NMIMICSPARAM .or. nst /= NSTATE .or. ndg /= NDIAG .or. nfix /= NFIX) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      ierr = advance_argument_error(icycle, nday, doy0, store_daily, nstore)
      if (ierr /= ERR_OK) return
      if (init_npp_prev /= 0 .and. (doy0 /= 1 .or. nday /= 365)) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      if (ncell < 1) return

      allocate (cp(ncell, NCP), q(ncell, NQ), froot(ncell, NSOIL_LAYERS), tsl(ncell, NSOIL_LAYERS))
      allocate (msl(ncell, NSOIL_LAYERS), fzl(ncell, NSOIL_LAYERS))
      allocate (dg(ncell, NDIAG))
      allocate (gppd(ncell), taird(ncell), tsoilavg(ncell), moistavg(ncell), frznavg(ncell), btran(ncell))
      allocate (rm(ncell, 3), rg(ncell), npp(ncell), npp0(ncell), clabloss(ncell), fracc(ncell, 3))
      allocate (kcold(ncell), kdry(ncell), xkleaf(ncell), cexud(ncell), fracclabile(ncell))
      allocate (xkn(ncell), rnew(ncell, 3), nuptake(ncell), fracnalloc(ncell, 3), ndepd(ncell))
      allocate (csrc(ncell), nsrc(ncell), nneg(ncell))

      call mimics_casa_constants(ncell, params, cp)
      q = 0.0_dp
      call mimics_static(ncell, mparams, cp, q)
      call casa_root_fractions(ncell, params, fixes(FIX_CUMULATIVE_ROOT_DEPTH) /= 0, froot)
      rnew = 0.0_dp

      ! previous-year NPP of the first simulated year: half the year's GPP (3.4, Q10)
      if (init_npp_prev /= 0) then
         do i = 1, ncell
            x = state(i, S_NPP_PREV)
            keep_prev = fixes(FIX_MIMICS_FIRST_YEAR_NPP) /= 0 .and. x > NPP_PREV_UNSET_BELOW
            if (keep_prev) cycle          ! (x > -99 is false for NaN)
            s = 0.0_dp
            if (nint(params(i, P_IVT2)) /= 0) then
               do d = 1, nday
                  s = s + real(gpp(i, d), dp)/2.0_dp
               end do
            end if
            state(i, S_NPP_PREV) = s
         end do
      end if

      do d = 1, nday
         doy = doy0 + d - 1
         ! ---- forcing (perturbations added in double after widening) ----
         do i = 1, ncell
            active = nint(params(i, P_IVT2)) /= 0
            gppd(i) = merge(real(gpp(i, d), dp), 0.0_dp, active)
            taird(i) = real(tair(i, d), dp) + dtair
            ndepd(i) = real(ndep(i, d), dp)
         end do
         do k = 1, NSOIL_LAYERS
            do i = 1, ncell
               tsl(i, k) = real(tsoil(i, k, d), dp) + dtsoil
               msl(i, k) = real(moist(i, k, d), dp)
               fzl(i, k) = real(frzn(i, k, d), dp)
            end do
         end do

         ! ---- 3.2 step 1: vegetation front end (casa_veg) ----
         cexud = 0.0_dp
         call casa_phenology(ncell, doy, params, state(:, S_PHASE))
         call casa_avgsoil(ncell, params, fixes(FIX_CLAMP_BTRAN) /= 0, froot, tsl, msl, &
                           tsoilavg, moistavg, btran)
         call casa_avg_layers(ncell, froot, fzl, frznavg)
         call casa_rplant(ncell, params, fixes(FIX_LEAF_MAINT_RESP) /= 0, fixes(FIX_CONSTANT_GROWTH_YIELD) /= 0, &
                          taird, tsoilavg, gppd, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                          state(:, S_PLEAF:S_PFROOT), state(:, S_CLABILE), rm, rg, npp0, clabloss)
         do i = 1, ncell
            npp(i) = npp0(i)*npp_scalar
         end do
         call casa_allocation(ncell, params, state(:, S_PHASE), state(:, S_LAI), npp, rm, fracc)
         call casa_xrateplant(ncell, params, state(:, S_PHASE), taird, btran, kcold, kdry, xkleaf)
         ! ---- step 2: exudation after NPP (Q6 / casa.md Q6) ----
         call casa_exudation(ncell, params, gppd, cexud)
         ! ---- step 3: MIMICS coeffplant (dynamic lignin:N, fromPtoL, kplant) ----
         call mimics_coeffplant(ncell, icycle, mparams, cp, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                                state(:, S_LAI), xkleaf, kcold, kdry, q)
         ! ---- step 4: N-limited NPP ----
         fracclabile = 0.0_dp
         if (icycle > 1) then
            call casa_xnp(ncell, params, state(:, S_NSOILMIN), fracc, q(:, Q_KPLANT:Q_KPLANT + 2), &
                          state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), gppd, npp, fracclabile)
         end if
         ! ---- step 5: CWD decay ----
         call mimics_cwd_rate(ncell, cp, tsoilavg, moistavg, q)
         ! ---- step 6: xkNlimiting (MIMICS mode, 5.2) and plant N uptake ----
         if (icycle > 1) then
            call casa_xkn2(ncell, params, .false., state(:, S_NSOILMIN), state(:, S_CMET:S_CCWD), xkn, rnew)
            call casa_nuptake(ncell, params, state(:, S_NSOILMIN), xkn, npp, fracc, q(:, Q_KPLANT:Q_KPLANT + 2), &
                              state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), nuptake, fracnalloc)
         else
            xkn = 1.0_dp
            nuptake = 0.0_dp
            fracnalloc = 0.0_dp
         end if
         ! ---- step 7: plant / CWD tendencies, litter inputs, daily fractions ----
         call mimics_delplant(ncell, icycle, cp, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                              state(:, S_CCWD), state(:, S_NCWD), npp, gppd, fracc, fracclabile, clabloss, cexud, &
                              nuptake, fracnalloc, q)
         call mimics_fractions(ncell, mparams, cp, q)
         ! ---- step 8: 24 hours of MIMICS (+ CN mineral-N bookkeeping) ----
         call mimics_leach(ncell, icycle, mparams, cp, state(:, S_NSOILMIN), q)
         call mimics_environment(ncell, icycle, mparams, cp, tsoilavg, moistavg, frznavg, state(:, S_NPP_PREV), q)
         call mimics_hours(ncell, icycle, mparams, cp, q, state(:, S_LITM:S_SOMP), state(:, S_LITMN:S_SOMPN))
         if (icycle > 1) call mimics_nbook(ncell, cp, tsoilavg, state(:, S_NSOILMIN), ndepd, nuptake, q)
         ! ---- steps 9-10: CASA pool update, caccum ----
         call mimics_cycle(ncell, icycle, cp, q, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                           state(:, S_CLABILE), state(:, S_CCWD), state(:, S_NCWD), state(:, S_NSOILMIN), &
                           state(:, S_LAI), csrc, nsrc, nneg)
         ! ---- step 11: pdummy / ndummy ----
         call casa_end_of_day_np(ncell, params, icycle, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                                 state(:, S_PLEAF:S_PFROOT))

         ! ---- diagnostics ----
         do i = 1, ncell
            active = nint(params(i, P_IVT2)) /= 0
            u = q(i, Q_U)
            dg(i, :) = 0.0_dp
            dg(i, D_CLEAF) = state(i, S_CLEAF); dg(i, D_CWOOD) = state(i, S_CWOOD); dg(i, D_CFROOT) = state(i, S_CFROOT)
            dg(i, D_NLEAF) = state(i, S_NLEAF); dg(i, D_NWOOD) = state(i, S_NWOOD); dg(i, D_NFROOT) = state(i, S_NFROOT)
            dg(i, D_CLABILE) = state(i, S_CLABILE)
            dg(i, D_CMET) = state(i, S_CMET); dg(i, D_CSTR) = state(i, S_CSTR); dg(i, D_CCWD) = state(i, S_CCWD)
            dg(i, D_NMET) = state(i, S_NMET); dg(i, D_NSTR) = state(i, S_NSTR); dg(i, D_NCWD) = state(i, S_NCWD)
            dg(i, D_CMIC) = state(i, S_CMIC); dg(i, D_CSLOW) = state(i, S_CSLOW); dg(i, D_CPASS) = state(i, S_CPASS)
            dg(i, D_NMIC) = state(i, S_NMIC); dg(i, D_NSLOW) = state(i, S_NSLOW); dg(i, D_NPASS) = state(i, S_NPASS)
            dg(i, D_NSOILMIN) = state(i, S_NSOILMIN)
            dg(i, D_LAI) = state(i, S_LAI)
            dg(i, D_PHASE) = state(i, S_PHASE)
            dg(i, D_PLEAF) = state(i, S_PLEAF)
            dg(i, D_GPP) = gppd(i)
            dg(i, D_NPP) = npp(i)
            dg(i, D_RA) = ((rm(i, 1) + rm(i, 2)) + rm(i, 3)) + rg(i)
            dg(i, D_RM_LEAF) = rm(i, 1); dg(i, D_RM_WOOD) = rm(i, 2); dg(i, D_RM_FROOT) = rm(i, 3)
            dg(i, D_RG) = rg(i)
            dg(i, D_CLABLOSS) = clabloss(i)
            dg(i, D_CEXUDATE) = cexud(i)
            dg(i, D_FRACCLABILE) = fracclabile(i)
            dg(i, D_FA_LEAF) = fracc(i, 1); dg(i, D_FA_WOOD) = fracc(i, 2); dg(i, D_FA_FROOT) = fracc(i, 3)
            dg(i, D_KP_LEAF) = q(i, Q_KPLANT); dg(i, D_KP_WOOD) = q(i, Q_KPLANT + 1); dg(i, D_KP_FROOT) = q(i, Q_KPLANT + 2)
            dg(i, D_KL_CWD) = q(i, Q_KLIT_CWD)
            dg(i, D_CLITINPT_MET) = q(i, Q_CLITINPT_MET); dg(i, D_CLITINPT_STR) = q(i, Q_CLITINPT_STR)
            dg(i, D_NLITINPT_MET) = q(i, Q_NLITINPT_MET); dg(i, D_NLITINPT_STR) = q(i, Q_NLITINPT_STR)
            ! reported for every cell, as the original does (see casa_step)
            dg(i, D_NDEP) = ndepd(i)
            dg(i, D_NFIX) = cp(i, CP_NMINFIX)
            dg(i, D_NUPTAKE) = nuptake(i)
            dg(i, D_NLEACH) = q(i, Q_NMINLEACH)
            dg(i, D_NLOSS) = q(i, Q_NMINLOSS)
            dg(i, D_NLITTERMIN) = q(i, Q_NLITTERMIN)
            dg(i, D_NSOILMIN_GROSS) = q(i, Q_NSMIN)
            dg(i, D_NSOILIMMOB) = q(i, Q_NSIMM)
            dg(i, D_NNETMIN) = q(i, Q_NSNET)
            dg(i, D_XKNLIMITING) = xkn(i)
            dg(i, D_TAIRC) = taird(i) - TKZERO
            dg(i, D_TSOILC) = tsoilavg(i) - TKZERO
            dg(i, D_MOISTAVG) = moistavg(i)
            dg(i, D_BTRAN) = btran(i)
            ! CASA thetaLiq / fT / fW are reset to 0 in MIMICS mode (casa.md 3.4 step 8)
            dg(i, D_FMET_LEAF) = q(i, Q_FMET_LEAF)
            do k = 0, 6
               dg(i, D_LITM + k) = state(i, S_LITM + k)*u
               dg(i, D_LITMN + k) = state(i, S_LITMN + k)*u
            end do
            dg(i, D_DIN) = q(i, Q_DIN)*u
            dg(i, D_CHRESP) = q(i, Q_CHRESP)*u
            dg(i, D_RH) = dg(i, D_CHRESP)
            dg(i, D_NEP) = npp(i) - dg(i, D_RH)
            dg(i, D_CSOMPIN) = q(i, Q_CSOMPIN)*u
            dg(i, D_CLITINPUT_MET) = q(i, Q_CLITIN_MET)*u
            dg(i, D_CLITINPUT_STR) = q(i, Q_CLITIN_STR)*u
            dg(i, D_OVERFLOW_R) = q(i, Q_OVERFLOW_R)*u
            dg(i, D_OVERFLOW_K) = q(i, Q_OVERFLOW_K)*u
            dg(i, D_NLITINPUT_MET) = q(i, Q_NLITIN_MET)*u
            dg(i, D_NLITINPUT_STR) = q(i, Q_NLITIN_STR)*u
            dg(i, D_THETAFRZN) = q(i, Q_THETAFRZN)
            dg(i, D_FW_MIMICS) = q(i, Q_FW)
            dg(i, D_THETALIQ_MIMICS) = q(i, Q_THETALIQ)
            dg(i, D_FMET) = q(i, Q_FMET)
            dg(i, D_LIGNINNRATIO) = q(i, Q_LIGNINNRATIO)
            dg(i, D_TAUMOD) = q(i, Q_TAUMOD)
            dg(i, D_NPP_PREV) = state(i, S_NPP_PREV)
            dg(i, D_CWD2CO2) = q(i, Q_CWD2CO2)
            dg(i, D_CWD2STR) = q(i, Q_CWD2STR)
            dg(i, D_NEG_POOLS) = nneg(i)
            ! mass created outside the physical fluxes (docs/kernel.md "Budgets"):
            ! C: NPP multiplier, exudate (counted in GPP and again as litter), plant clamps
            dg(i, D_C_QUIRK_SOURCE) = ((npp0(i)*npp_scalar - npp0(i)) + cexud(i)) + csrc(i)
            ! N: the 1e-10 of Nminuptake not given to plants, discarded plant N (Q12), clamps
            if (icycle > 1 .and. active) then
               dg(i, D_N_QUIRK_SOURCE) = ((((nuptake(i)*fracnalloc(i, 1) + nuptake(i)*fracnalloc(i, 2)) &
                                            + nuptake(i)*fracnalloc(i, 3)) - nuptake(i))) + nsrc(i)
            else if (.not. active) then
               dg(i, D_N_QUIRK_SOURCE) = -(dg(i, D_NDEP) + dg(i, D_NFIX))
            end if
         end do
         if (store_daily /= 0) daily(:, :, d) = dg
         annual = annual + dg
      end do

      ! end of the year: the year's NPP sum becomes the previous-year NPP (3.4)
      if (doy0 + nday - 1 == 365) then
         do i = 1, ncell
            state(i, S_NPP_PREV) = annual(i, D_NPP)
         end do
      end if
   end subroutine advance_mimics_impl

end module mimics_step
