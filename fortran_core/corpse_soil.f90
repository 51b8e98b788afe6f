!> CASA-CNP vegetation + CORPSE soil (C only): initialisation, the CORPSE physics and the daily driver.
!>
!> Spec: docs/corpse.md. CORPSE (Sulman et al.) holds two layers, a litter layer and one soil layer
!> (0.15 m), each with two cohorts (rhizosphere, bulk soil). A cohort holds unprotected and protected
!> carbon of three species (1 labile, 2 recalcitrant, 3 dead microbe), living microbial carbon and the
!> CO2 carbon it respired since the start of the run. Pools are kg C m-2 (the original's units); the
!> time step is one day (dt = 1/365 yr). Entry points (argument lists of docs/kernel.md):
!>   corpse_initialise_impl, advance_corpse_impl.
!>
!> A cohort is handled as an array c(NCOH) (U1..U3 unprotected, P1..P3 protected, MIC) plus its CO2;
!> in the state a layer's 14 pools are S_<LAYER>_C + (rhizosphere unprotected 0..2, bulk unprotected
!> 3..5, rhizosphere protected 6..8, bulk protected 9..11, microbes 12 rhizosphere, 13 bulk), the
!> order of the original's restart file.
module corpse_soil
   use tb_precision, only: dp, sp, TKZERO
   use tb_layout
   use casa_veg, only: casa_root_fractions, casa_avg_layers, cell_active, casa_litter_fmet
   use casa_veg_day
   use mimics_soil, only: NCP, NQ, Q_KLIT_CWD, Q_CWD_CO2FRAC, mimics_casa_constants, mimics_cwd_rate
   implicit none
   private

   public :: corpse_initialise_impl, advance_corpse_impl

   integer, parameter :: RHIZ = 1, BULK = 2
   integer, parameter :: NCOH = 7, MIC = 7          ! cohort array: 1..3 unprotected, 4..6 protected, 7 microbes
   real(dp), parameter :: DT = 1.0_dp/365.0_dp       ! yr
   real(dp), parameter :: RUGAS = 8.314472_dp        ! J mol-1 K-1
   real(dp), parameter :: TREF = 293.15_dp           ! K, reference temperature of vmaxref
   real(dp), parameter :: LAYER_THICKNESS = 0.15_dp  ! m
   real(dp), parameter :: ZERO_THRESHOLD = -10.0e-5_dp  ! kg m-2 d-1: more negative litter inputs are set to 0
   real(dp), parameter :: NPP_PREV_UNSET = -99.9_dp
   real(dp), parameter :: NPP_PREV_UNSET_BELOW = -99.0_dp

contains

   ! ---------------------------------------------------------------------------
   !> Mineral sorption capacity Qmax of the soil layer from clay (fraction) and porosity (corpse.md 2).
   elemental real(dp) function corpse_qmax(clay_frac, porosity) result(q)
      real(dp), intent(in) :: clay_frac, porosity
      real(dp) :: clay
      clay = clay_frac*100.0_dp
      if (clay <= 0.0_dp) then
         q = 0.0_dp
      else
         q = max(0.0_dp, ((10.0_dp**(0.4833_dp*log10(clay) + 2.3282_dp)*(1.0_dp - porosity))*2650.0_dp)*1.0e-6_dp)
      end if
   end function corpse_qmax

   !> Offset (0-based) of cohort k's array element j in a layer's 14 state columns.
   pure integer function pool_offset(j, k) result(o)
      integer, intent(in) :: j, k
      if (j <= 3) then
         o = (k - 1)*3 + (j - 1)
      else if (j <= 6) then
         o = 6 + (k - 1)*3 + (j - 4)
      else
         o = 12 + (k - 1)
      end if
   end function pool_offset

   ! ---------------------------------------------------------------------------
   !> corpse.md 3.1: Vmax (yr-1) of the three species at temperature tk (K).
   pure subroutine corpse_vmax(cp, tk, vmax)
      real(dp), intent(in) :: cp(NCORPSEPARAM), tk
      real(dp), intent(out) :: vmax(3)
      real(dp) :: ea
      integer :: k
      do k = 1, 3
         ea = cp(CO_EA + k - 1)
         vmax(k) = (cp(CO_VMAXREF + k - 1)/exp((-ea)/(RUGAS*TREF)))*exp((-ea)/(RUGAS*tk))
      end do
   end subroutine corpse_vmax

   !> corpse.md 3.1: moisture multiplier fW of liquid water tl and air-filled porosity afp.
   pure real(dp) function corpse_fw(cp, tl, afp) result(fw)
      real(dp), intent(in) :: cp(NCORPSEPARAM), tl, afp
      fw = max(cp(CO_FWMIN), (tl*tl*tl + 0.001_dp)*max(afp**cp(CO_GAS_DIFFUSION_EXP), cp(CO_MIN_ANAEROBIC_RESP_FACTOR)))
   end function corpse_fw

   !> corpse.md 3.1: decomposition rates (kg m-2 yr-1) of the three species of substrate c by microbial
   !> biomass chet, with the day's vmax(3) and fW (0 when there is no liquid water, tl = 0); vfac scales Vmax.
   pure subroutine corpse_resp(cp, c, chet, vmax, fw, tl, vfac, r)
      real(dp), intent(in) :: cp(NCORPSEPARAM), c(3), chet, vmax(3), fw, tl, vfac
      real(dp), intent(out) :: r(3)
      real(dp) :: enz, s
      integer :: k
      enz = chet*cp(CO_ENZFRAC)
      s = (c(1) + c(2)) + c(3)
      if (s == 0.0_dp .or. tl == 0.0_dp .or. enz == 0.0_dp) then
         r = 0.0_dp
         return
      end if
      do k = 1, 3
         r(k) = ((((vmax(k)*vfac)*fw)*c(k))*enz)/(s*cp(CO_KC + k - 1) + enz)
      end do
   end subroutine corpse_resp

   !> corpse.md 3.2: one day of one cohort: decomposition of unprotected and protected carbon, microbial
   !> growth and turnover, protection and its reversal. prate(3) is the layer's protection rate (yr-1);
   !> co2p (kg m-2) is respired, pprod(3) (kg m-2) moves into the protected pools.
   pure subroutine corpse_cohort_day(cp, c, co2, prate, vmax, fw, tl, co2p, pprod)
      real(dp), intent(in) :: cp(NCORPSEPARAM), prate(3), vmax(3), fw, tl
      real(dp), intent(inout) :: c(NCOH), co2
      real(dp), intent(out) :: co2p, pprod(3)
      real(dp) :: r(3), tot(3), ptv(3), act, mt, st, den, dead
      logical :: has_volume
      integer :: k

      ! the cohort's volume is > 0 when it holds carbon or has respired some (original: originalLitterC)
      act = (c(MIC) + ((c(1) + c(2)) + c(3))) + ((c(4) + c(5)) + c(6))
      has_volume = act > 0.0_dp .or. act + co2 > 0.0_dp

      call corpse_resp(cp, c(1:3), c(MIC), vmax, fw, tl, 1.0_dp, r)
      do k = 1, 3
         if (DT*r(k) > c(k)) then
            r(k) = c(k)/DT
            c(k) = 0.0_dp
         else
            c(k) = c(k) - DT*r(k)
         end if
      end do
      tot = r
      call corpse_resp(cp, c(4:6), c(MIC), vmax, fw, tl, cp(CO_PROTECTED_CARBON_DECOMP_FACTOR), r)
      do k = 1, 3
         if (DT*r(k) > c(3 + k)) then
            r(k) = c(3 + k)/DT
            c(3 + k) = 0.0_dp
         else
            c(3 + k) = c(3 + k) - DT*r(k)
         end if
         tot(k) = tot(k) + r(k)
      end do

      ! microbial biomass: uptake efficiency eup, turnover above the minimum biomass
      mt = max(0.0_dp, (c(MIC) - cp(CO_MINMICROBEC)*((c(1) + c(2)) + c(3)))/cp(CO_TMIC))
      st = (tot(1) + tot(2)) + tot(3)
      if (st > 0.0_dp) then
         den = ((tot(1)/st)/cp(CO_TURNOVER_FACTOR) + (tot(2)/st)/cp(CO_TURNOVER_FACTOR + 1)) &
               + (tot(3)/st)/cp(CO_TURNOVER_FACTOR + 2)
         mt = mt/den
      end if
      c(MIC) = c(MIC) + DT*(((cp(CO_EUP)*tot(1) + cp(CO_EUP + 1)*tot(2)) + cp(CO_EUP + 2)*tot(3)) - mt)
      dead = (DT*mt)*cp(CO_ET)
      c(3) = c(3) + dead
      co2p = DT*((((tot(1)*(1.0_dp - cp(CO_EUP)) + tot(2)*(1.0_dp - cp(CO_EUP + 1))) &
                   + tot(3)*(1.0_dp - cp(CO_EUP + 2))) + mt*(1.0_dp - cp(CO_ET))))
      co2 = co2 + co2p

      ! protection of unprotected carbon and its turnover back
      do k = 1, 3
         ptv(k) = c(3 + k)/cp(CO_TPROTECTED)
      end do
      if (((c(1) + c(2)) + c(3)) > 0.0_dp .and. has_volume) then
         do k = 1, 3
            pprod(k) = (prate(k)*c(k))*DT
         end do
      else
         pprod = 0.0_dp
      end if
      do k = 1, 3
         if (pprod(k) > c(k)) pprod(k) = c(k)
         c(3 + k) = (c(3 + k) + pprod(k)) - DT*ptv(k)
         c(k) = (c(k) - pprod(k)) + DT*ptv(k)
      end do
   end subroutine corpse_cohort_day

   !> One day of a layer's two cohorts (14 pools in restart-file order, 2 CO2 accumulators), rhizosphere
   !> first, with the day's vmax(3), fW and liquid water tl. qmax is the layer's sorption capacity; co2p
   !> and pprod(3) are the layer's sums.
   pure subroutine corpse_layer_day(cp, pools, co2, qmax, vmax, fw, tl, co2p, pprod)
      real(dp), intent(in) :: cp(NCORPSEPARAM), qmax, vmax(3), fw, tl
      real(dp), intent(inout) :: pools(14), co2(2)
      real(dp), intent(out) :: co2p, pprod(3)
      real(dp) :: c(NCOH), prate(3), cop, pp(3)
      integer :: k, j
      do j = 1, 3
         prate(j) = (cp(CO_PROTECTION_RATE)*cp(CO_PROTECTION_SPECIES + j - 1))*qmax
      end do
      co2p = 0.0_dp
      pprod = 0.0_dp
      do k = RHIZ, BULK
         do j = 1, NCOH
            c(j) = pools(1 + pool_offset(j, k))
         end do
         call corpse_cohort_day(cp, c, co2(k), prate, vmax, fw, tl, cop, pp)
         do j = 1, NCOH
            pools(1 + pool_offset(j, k)) = c(j)
         end do
         co2p = co2p + cop
         pprod = pprod + pp
      end do
   end subroutine corpse_layer_day

   !> Litter input x(3) (kg m-2) into a layer, split rhizosphere / bulk by rf; the minimum microbial
   !> fraction of it becomes living microbes (corpse.md 3.3).
   pure subroutine corpse_add_litter(cp, x, rf, pools)
      real(dp), intent(in) :: cp(NCORPSEPARAM), x(3), rf
      real(dp), intent(inout) :: pools(14)
      real(dp) :: m
      integer :: j
      m = cp(CO_MINMICROBEC)
      do j = 1, 3
         pools(1 + pool_offset(j, RHIZ)) = pools(1 + pool_offset(j, RHIZ)) + (x(j)*(1.0_dp - m))*rf
      end do
      pools(1 + pool_offset(MIC, RHIZ)) = pools(1 + pool_offset(MIC, RHIZ)) + ((((x(1) + x(2)) + x(3))*m)*rf)
      do j = 1, 3
         pools(1 + pool_offset(j, BULK)) = pools(1 + pool_offset(j, BULK)) + (x(j)*(1.0_dp - m))*(1.0_dp - rf)
      end do
      pools(1 + pool_offset(MIC, BULK)) = pools(1 + pool_offset(MIC, BULK)) &
                                          + ((((x(1) + x(2)) + x(3))*m)*(1.0_dp - rf))
   end subroutine corpse_add_litter

   !> Cold-start pools of a layer: initial_C goes to the rhizosphere cohort (corpse.md 4.1).
   pure subroutine corpse_cold_layer(cp, pools)
      real(dp), intent(in) :: cp(NCORPSEPARAM)
      real(dp), intent(out) :: pools(14)
      real(dp) :: m, x(3)
      integer :: j
      m = cp(CO_MINMICROBEC)
      x = cp(CO_INITIAL_C:CO_INITIAL_C + 2)
      pools = 0.0_dp
      do j = 1, 3
         pools(1 + pool_offset(j, RHIZ)) = x(j)*(1.0_dp - m)
      end do
      pools(1 + pool_offset(MIC, RHIZ)) = (x(1)*m + x(2)*m) + x(3)*m
   end subroutine corpse_cold_layer

   ! ---------------------------------------------------------------------------
   !> Cold start (cold_start /= 0, corpse.md 4.1) or restart (4.2, after Python copied the restart's
   !> columns into the state): CO2 accumulators and output lines restart at 0, Qmax and the protection
   !> rate come from the soil texture and the parameter set. C only: icycle 2 is refused.
   subroutine corpse_initialise_impl(ncell, icycle, cold_start, params, npar, cparams, ncp, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, npar, ncp, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(in) :: cparams(ncell, ncp)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      integer :: i
      real(dp) :: pools(14)

      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. ncp /= NCORPSEPARAM .or. nst /= NSTATE) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      if (icycle /= 1) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      do i = 1, ncell
         if (cold_start /= 0) then
            call corpse_cold_layer(cparams(i, :), pools)
            state(i, S_SOIL_C:S_SOIL_C + 13) = pools
            if (nint(cparams(i, CO_LITTER_OPTION)) == 2) then
               state(i, S_LIT_C:S_LIT_C + 13) = pools
            else
               state(i, S_LIT_C:S_LIT_C + 13) = 0.0_dp
            end if
            state(i, S_CORPSE_NPP_PREV) = NPP_PREV_UNSET
         end if
         state(i, S_LIT_CO2:S_LIT_CO2 + 1) = 0.0_dp
         state(i, S_SOIL_CO2:S_SOIL_CO2 + 1) = 0.0_dp
         state(i, S_LIT_DOC:S_LIT_DOC + 2) = 0.0_dp
         state(i, S_SOIL_DOC:S_SOIL_DOC + 2) = 0.0_dp
         state(i, S_LIT_PROTECTION_RATE) = cparams(i, CO_PROTECTION_RATE)
         state(i, S_SOIL_PROTECTION_RATE) = cparams(i, CO_PROTECTION_RATE)
         state(i, S_LIT_QMAX) = 0.0_dp
         state(i, S_SOIL_QMAX) = corpse_qmax(params(i, P_CLAY), params(i, P_SSAT))
         state(i, S_CORPSE_LINES) = 0.0_dp
      end do
   end subroutine corpse_initialise_impl

   ! ---------------------------------------------------------------------------
   !> nday days (doy0 .. doy0+nday-1 of one 365-day year) of CASA vegetation + CORPSE soil. first_year
   !> /= 0 (the first year of a program run; needs doy0 = 1 and nday = 365) sets the previous-year NPP
   !> from half the year's GPP (corpse.md Q6) unless FIX_CORPSE_FIRST_YEAR_NPP keeps a provided value.
   subroutine advance_corpse_impl(ncell, nday, icycle, doy0, first_year, fixes, nfix, params, npar, &
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
      integer :: n0, n1, k
      integer :: cells(BLOCK_CELLS)

      ierr = advance_argument_error(npar, ncp, NCORPSEPARAM, nst, ndg, nfix, icycle, nday, doy0, store_daily, nstore)
      if (ierr /= ERR_OK) return
      if (icycle /= 1 .or. (first_year /= 0 .and. (doy0 /= 1 .or. nday /= 365))) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      if (ncell < 1) return
      do n0 = 1, ncell, BLOCK_CELLS
         n1 = min(ncell, n0 + BLOCK_CELLS - 1)
         do k = 1, n1 - n0 + 1
            cells(k) = n0 + k - 1
         end do
         call corpse_block_days(n1 - n0 + 1, ncell, cells, nday, doy0, first_year, fixes, params(n0:n1, :), &
                                cparams(n0:n1, :), state(n0:n1, :), gpp, tair, ndep, tsoil, moist, frzn, &
                                dtair, dtsoil, npp_scalar, store_daily, nstore, daily(n0:n1, :, :), &
                                annual(n0:n1, :))
      end do
   end subroutine advance_corpse_impl

   !> advance_corpse_impl for one block of nb cells, the call's cells cells(1:nb) (arguments already checked):
   !> params to annual hold the block's rows, the forcing arrays all the call's ncell cells.
   subroutine corpse_block_days(nb, ncell, cells, nday, doy0, first_year, fixes, params, cparams, state, gpp, tair, &
                                ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, store_daily, nstore, daily, annual)
      integer, intent(in) :: nb, ncell, cells(nb), nday, doy0, first_year, store_daily, nstore
      integer, intent(in) :: fixes(NFIX)
      real(dp), intent(in) :: params(nb, NCASAPARAM), cparams(nb, NCORPSEPARAM)
      real(dp), intent(inout) :: state(nb, NSTATE)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, NSOIL_LAYERS, nday), moist(ncell, NSOIL_LAYERS, nday)
      real(sp), intent(in) :: frzn(ncell, NSOIL_LAYERS, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(nb, NDIAG, nstore)
      real(dp), intent(inout) :: annual(nb, NDIAG)

      type(veg_options) :: opt
      type(veg_day_work) :: w
      real(dp) :: cpc(nb, NCP), q(nb, NQ), froot(nb, NSOIL_LAYERS), tsl(nb, NSOIL_LAYERS)
      real(dp) :: msl(nb, NSOIL_LAYERS), fzl(nb, NSOIL_LAYERS), dg(nb, NDIAG)
      real(dp) :: gppd(nb), taird(nb), ndepd(nb), frznavg(nb), s(nb), fmet_l(nb), fmet_r(nb)
      real(dp) :: cl2m, cl2s, cr2m, cr2s, cw2c, cwd2co2, cwd2str, kl, kr, klit, fco2
      real(dp) :: leaf_in(3), root_in(3), exud, tl, tf, afp, fw, fwr, tk, rf, csrc, vmax(3)
      real(dp) :: cpt(NCORPSEPARAM, nb)   ! the parameters, one contiguous column per cell
      real(dp) :: lit(14), soil(14), lco2(2), sco2(2), co2p_s, co2p_l, pp_s(3), pp_l(3)
      real(dp) :: sco2_0, lco2_0
      logical :: active(nb), keep_prev
      integer :: i, d, doy, k

      opt%clamp_btran = fixes(FIX_CLAMP_BTRAN) /= 0
      opt%leaf_maint_resp = fixes(FIX_LEAF_MAINT_RESP) /= 0
      opt%constant_yield = fixes(FIX_CONSTANT_GROWTH_YIELD) /= 0
      opt%exudate_from_npp = .false.   ! the Q6 option applies to the CASA soil model only
      opt%casa_soil_mode = .false.

      call veg_work_allocate(nb, params, w)
      cpt = transpose(cparams)
      call mimics_casa_constants(nb, params, cpc)
      q = 0.0_dp
      call casa_root_fractions(nb, params, fixes(FIX_CUMULATIVE_ROOT_DEPTH) /= 0, froot)
      do i = 1, nb
         active(i) = cell_active(params(i, P_IVT2))
      end do

      ! previous-year NPP of the first simulated year: half the year's GPP (corpse.md Q6)
      if (first_year /= 0) then
         s = 0.0_dp
         do d = 1, nday
            do i = 1, nb
               s(i) = s(i) + real(gpp(cells(i), d), dp)/2.0_dp
            end do
         end do
         do i = 1, nb
            keep_prev = fixes(FIX_CORPSE_FIRST_YEAR_NPP) /= 0 .and. state(i, S_CORPSE_NPP_PREV) > NPP_PREV_UNSET_BELOW
            if (keep_prev) cycle
            if (active(i)) then
               state(i, S_CORPSE_NPP_PREV) = s(i)
            else
               state(i, S_CORPSE_NPP_PREV) = 0.0_dp
            end if
         end do
      end if

      dg = 0.0_dp
      do d = 1, nday
         doy = doy0 + d - 1
         call widen_forcing_day(nb, ncell, cells, nday, d, doy, params, gpp, tair, ndep, tsoil, moist, dtair, dtsoil, &
                                gppd, taird, ndepd, tsl, msl, dg(:, D_DRY_SPELL), dg(:, D_DRY_WETTER), &
                                dg(:, D_DRY_PSI_EFF))
         do k = 1, NSOIL_LAYERS
            do i = 1, nb
               fzl(i, k) = real(frzn(cells(i), k, d), dp)
            end do
         end do
         ! litter partitioning from the start-of-day plant pools (the original's casa_coeffplant)
         call casa_litter_fmet(nb, params, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), fmet_l, fmet_r)
         call casa_vegetation_day(nb, doy, 1, opt, params, froot, taird, tsl, msl, npp_scalar, gppd, state, w)
         call casa_avg_layers(nb, froot, fzl, frznavg)
         call mimics_cwd_rate(nb, cpc, w%tsoilavg, w%moistavg, q)

         do i = 1, nb
            sco2_0 = state(i, S_SOIL_CO2) + state(i, S_SOIL_CO2 + 1)
            lco2_0 = state(i, S_LIT_CO2) + state(i, S_LIT_CO2 + 1)
            tl = 0.0_dp
            tf = 0.0_dp
            fw = 0.0_dp
            pp_s = 0.0_dp
            co2p_s = 0.0_dp
            co2p_l = 0.0_dp
            cwd2co2 = 0.0_dp
            csrc = 0.0_dp
            cl2m = 0.0_dp; cl2s = 0.0_dp; cr2m = 0.0_dp; cr2s = 0.0_dp; cwd2str = 0.0_dp
            if (active(i)) then
               ! plant litter and CWD fluxes (g m-2 d-1), corpse.md 3.4
               kl = w%kplant(i, 1)
               kr = w%kplant(i, 3)
               cl2m = (fmet_l(i)*kl)*w%cplant0(i, 1)
               cl2s = ((1.0_dp - fmet_l(i))*kl)*w%cplant0(i, 1)
               cr2m = (fmet_r(i)*kr)*w%cplant0(i, 3)
               cr2s = ((1.0_dp - fmet_r(i))*kr)*w%cplant0(i, 3)
               cw2c = (1.0_dp*w%kplant(i, 2))*w%cplant0(i, 2)
               klit = q(i, Q_KLIT_CWD)
               fco2 = q(i, Q_CWD_CO2FRAC)
               cwd2co2 = (fco2*klit)*state(i, S_CCWD)
               cwd2str = ((1.0_dp - fco2)*klit)*state(i, S_CCWD)
               state(i, S_CCWD) = state(i, S_CCWD) + (cw2c - klit*state(i, S_CCWD))*1.0_dp

               ! inputs in kg m-2 d-1; the exudate (previous year's NPP) is taken from labile root litter
               tl = min(1.0_dp, w%moistavg(i)/params(i, P_SSAT))
               tk = w%tsoilavg(i)
               exud = ((cparams(i, CO_EXUDATE_NPP_FRAC)*state(i, S_CORPSE_NPP_PREV))*DT)/1000.0_dp
               if (nint(cparams(i, CO_LITTER_OPTION)) == 2) then
                  leaf_in = [cl2m/1000.0_dp, (cl2s + cwd2str)/1000.0_dp, 0.0_dp]
                  root_in = [cr2m/1000.0_dp, cr2s/1000.0_dp, 0.0_dp]
               else
                  leaf_in = 0.0_dp
                  root_in = [(cr2m + cl2m)/1000.0_dp, ((cr2s + cl2s) + cwd2str)/1000.0_dp, 0.0_dp]
               end if
               if ((root_in(1) - exud) > 0.0_dp) then
                  root_in(1) = root_in(1) - exud
               else
                  exud = root_in(1)
                  root_in(1) = 0.0_dp
               end if
               do k = 1, 2
                  if (leaf_in(k) < ZERO_THRESHOLD) then
                     csrc = csrc - leaf_in(k)*1000.0_dp
                     leaf_in(k) = 0.0_dp
                  end if
               end do
               do k = 1, 2
                  if (root_in(k) < ZERO_THRESHOLD) then
                     csrc = csrc - root_in(k)*1000.0_dp
                     root_in(k) = 0.0_dp
                  end if
               end do

               lit = state(i, S_LIT_C:S_LIT_C + 13)
               soil = state(i, S_SOIL_C:S_SOIL_C + 13)
               lco2 = state(i, S_LIT_CO2:S_LIT_CO2 + 1)
               sco2 = state(i, S_SOIL_CO2:S_SOIL_CO2 + 1)
               rf = max(0.0_dp, min(1.0_dp, cparams(i, CO_RHIZOSPHERE_FRAC)))
               call corpse_add_litter(cpt(:, i), leaf_in, 1.0_dp, lit)
               call corpse_add_litter(cpt(:, i), root_in, rf, soil)
               soil(1) = exud + soil(1)
               tf = min(1.0_dp, frznavg(i)/params(i, P_SSAT))
               afp = max(0.0_dp, (1.0_dp - tl) - tf)
               ! fW and Vmax are the same for every cohort of the day; the decomposition sees max(tl, 0)
               fw = corpse_fw(cpt(:, i), tl, afp)
               fwr = fw
               if (tl < 0.0_dp) fwr = corpse_fw(cpt(:, i), 0.0_dp, afp)
               call corpse_vmax(cpt(:, i), tk, vmax)
               call corpse_layer_day(cpt(:, i), soil, sco2, state(i, S_SOIL_QMAX), vmax, fwr, max(tl, 0.0_dp), &
                                     co2p_s, pp_s)
               call corpse_layer_day(cpt(:, i), lit, lco2, 0.0_dp, vmax, fwr, max(tl, 0.0_dp), co2p_l, pp_l)
               state(i, S_LIT_C:S_LIT_C + 13) = lit
               state(i, S_SOIL_C:S_SOIL_C + 13) = soil
               state(i, S_LIT_CO2:S_LIT_CO2 + 1) = lco2
               state(i, S_SOIL_CO2:S_SOIL_CO2 + 1) = sco2
            end if

            ! ---- CORPSE diagnostics (the original's output formulas) ----
            do k = 0, 13
               dg(i, D_LIT_C + k) = 1000.0_dp*state(i, S_LIT_C + k)
               dg(i, D_SOIL_C + k) = 1000.0_dp*state(i, S_SOIL_C + k)
            end do
            do k = 0, 2
               dg(i, D_SOIL_PROT + k) = 1000.0_dp*(state(i, S_SOIL_C + 6 + k) + state(i, S_SOIL_C + 9 + k))
               dg(i, D_SOIL_UNPROT + k) = 1000.0_dp*(state(i, S_SOIL_C + k) + state(i, S_SOIL_C + 3 + k))
               dg(i, D_LIT_UNPROT + k) = 1000.0_dp*(state(i, S_LIT_C + k) + state(i, S_LIT_C + 3 + k))
            end do
            dg(i, D_SOIL_LIVEMIC) = 1000.0_dp*(state(i, S_SOIL_C + 12) + state(i, S_SOIL_C + 13))
            dg(i, D_LIT_LIVEMIC) = 1000.0_dp*(state(i, S_LIT_C + 12) + state(i, S_LIT_C + 13))
            dg(i, D_SOIL_CO2CUM) = state(i, S_SOIL_CO2) + state(i, S_SOIL_CO2 + 1)
            dg(i, D_LIT_CO2CUM) = state(i, S_LIT_CO2) + state(i, S_LIT_CO2 + 1)
            dg(i, D_SOIL_HR) = 1000.0_dp*(dg(i, D_SOIL_CO2CUM) - sco2_0)
            dg(i, D_LIT_HR) = 1000.0_dp*(dg(i, D_LIT_CO2CUM) - lco2_0) + 1000.0_dp*(cwd2co2/1000.0_dp)
            dg(i, D_PROTECTED_PROD) = 1000.0_dp*((pp_s(1) + pp_s(2)) + pp_s(3))
            dg(i, D_TS_CORPSE) = w%tsoilavg(i)
            dg(i, D_THETALIQ_CORPSE) = tl
            dg(i, D_THETAFRZN_CORPSE) = tf
            dg(i, D_FW_CORPSE) = fw
            dg(i, D_CWD2CO2_CORPSE) = cwd2co2
            ! the kg m-2 quantities the original's annual file aggregates (its corpse_caccum; corpse.md 5)
            do k = 0, 2
               dg(i, D_SOIL_PROT_KG + k) = state(i, S_SOIL_C + 6 + k) + state(i, S_SOIL_C + 9 + k)
               dg(i, D_SOIL_UNPROT_KG + k) = state(i, S_SOIL_C + k) + state(i, S_SOIL_C + 3 + k)
               dg(i, D_LIT_UNPROT_KG + k) = state(i, S_LIT_C + k) + state(i, S_LIT_C + 3 + k)
               dg(i, D_PROTECTED_PROD_KG + k) = pp_s(k + 1)
            end do
            dg(i, D_SOIL_LIVEMIC_KG) = state(i, S_SOIL_C + 12) + state(i, S_SOIL_C + 13)
            dg(i, D_LIT_LIVEMIC_KG) = state(i, S_LIT_C + 12) + state(i, S_LIT_C + 13)
            dg(i, D_CWD2CO2_KG) = cwd2co2/1000.0_dp
            ! a year's sum of these is end - start of the cumulative CO2 (the original's CO2 difference)
            if (doy == 1) then
               dg(i, D_SOIL_CO2_YEAR) = -sco2_0
               dg(i, D_LIT_CO2_YEAR) = -lco2_0
            else if (doy == 365) then
               dg(i, D_SOIL_CO2_YEAR) = dg(i, D_SOIL_CO2CUM)
               dg(i, D_LIT_CO2_YEAR) = dg(i, D_LIT_CO2CUM)
            else
               dg(i, D_SOIL_CO2_YEAR) = 0.0_dp
               dg(i, D_LIT_CO2_YEAR) = 0.0_dp
            end if
            ! host diagnostics
            dg(i, D_CLITINPT_MET) = cl2m + cr2m
            dg(i, D_CLITINPT_STR) = (cl2s + cr2s) + cwd2str
            dg(i, D_RH) = 1000.0_dp*(co2p_s + co2p_l) + cwd2co2
            dg(i, D_NEP) = w%npp(i) - dg(i, D_RH)
            ! C created outside the physical fluxes: NPP multiplier, plant clamps, litter inputs set to 0
            if (active(i)) then
               dg(i, D_C_QUIRK_SOURCE) = ((w%npp_raw(i)*npp_scalar - w%npp_raw(i)) + w%csrc(i)) + csrc
            end if
         end do
         if (store_daily /= 0) then
            do i = 1, nb
               state(i, S_CORPSE_LINES) = state(i, S_CORPSE_LINES) + 1.0_dp
            end do
         else if (doy == 365) then
            do i = 1, nb
               state(i, S_CORPSE_LINES) = state(i, S_CORPSE_LINES) + 1.0_dp
            end do
         end if

         do k = 0, 2
            dg(:, D_CLEAF + k) = state(:, S_CLEAF + k)
            dg(:, D_NLEAF + k) = state(:, S_NLEAF + k)
            dg(:, D_CMET + k) = state(:, S_CMET + k)
            dg(:, D_NMET + k) = state(:, S_NMET + k)
            dg(:, D_CMIC + k) = state(:, S_CMIC + k)
            dg(:, D_NMIC + k) = state(:, S_NMIC + k)
            dg(:, D_RM_LEAF + k) = w%rm(:, 1 + k)
            dg(:, D_FA_LEAF + k) = w%fracc(:, 1 + k)
            dg(:, D_KP_LEAF + k) = w%kplant(:, 1 + k)
         end do
         dg(:, D_CLABILE) = state(:, S_CLABILE)
         dg(:, D_NSOILMIN) = state(:, S_NSOILMIN)
         dg(:, D_LAI) = state(:, S_LAI)
         dg(:, D_PHASE) = state(:, S_PHASE)
         dg(:, D_PLEAF) = state(:, S_PLEAF)
         dg(:, D_GPP) = gppd
         dg(:, D_NPP) = w%npp
         do i = 1, nb
            dg(i, D_RA) = ((w%rm(i, 1) + w%rm(i, 2)) + w%rm(i, 3)) + w%rg(i)
            dg(i, D_TAIRC) = taird(i) - TKZERO
            dg(i, D_TSOILC) = w%tsoilavg(i) - TKZERO
         end do
         dg(:, D_RG) = w%rg
         dg(:, D_CLABLOSS) = w%clabloss
         dg(:, D_CEXUDATE) = w%cexud
         dg(:, D_FRACCLABILE) = w%fracclab
         dg(:, D_KL_CWD) = q(:, Q_KLIT_CWD)
         dg(:, D_XKNLIMITING) = w%xkn
         dg(:, D_MOISTAVG) = w%moistavg
         dg(:, D_BTRAN) = w%btran
         dg(:, D_FMET_LEAF) = fmet_l
         dg(:, D_NEG_POOLS) = w%nneg
         call keep_day(nb, dg, NONE_KEPT, annual, daily(:, :, min(d, nstore)), store_daily /= 0, &
                       DIAG_CORPSE_FIRST, DIAG_CORPSE_LAST)
      end do

      ! end of the year: the year's NPP sum becomes the previous-year NPP
      if (doy0 + nday - 1 == 365) then
         do i = 1, nb
            state(i, S_CORPSE_NPP_PREV) = annual(i, D_NPP)
         end do
      end if
   end subroutine corpse_block_days

end module corpse_soil
