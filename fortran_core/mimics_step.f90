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
   use casa_veg, only: casa_root_fractions, casa_avg_layers, cell_active
   use casa_veg_day
   use mimics_soil
   use tb_exudation, only: exudation_on
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
   !> MIMICS soil. Cells are independent: they are run in blocks of BLOCK_CELLS
   !> cells, each block through all nday days (days outer, cells inner), so that a
   !> block's state and work arrays stay in cache. See docs/kernel.md.
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
      integer :: n0, n1, nb, ns, d
      integer, allocatable :: order(:)   ! on the heap: a chunk may hold many cells
      real(dp), allocatable :: bp(:, :), bm(:, :), bs(:, :), bdaily(:, :, :), bann(:, :)

      ierr = advance_argument_error(npar, nmp, NMIMICSPARAM, nst, ndg, nfix, icycle, nday, doy0, store_daily, nstore)
      if (ierr /= ERR_OK) return
      if (init_npp_prev /= 0 .and. (doy0 /= 1 .or. nday /= 365)) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      if (ncell < 1) return
      ! Blocks are cut from the cells in the order "vegetated cells, then icewater cells" (active_first), so that
      ! icewater cells share blocks and their hourly soil steps, whose results are never stored, are skipped
      ! (mimics_hours). Cells are independent: a cell's arithmetic is the same in any block.
      allocate (order(ncell))
      call active_first(ncell, params(:, P_IVT2), order)
      ns = 1
      if (store_daily /= 0) ns = nstore
      do n0 = 1, ncell, BLOCK_CELLS
         n1 = min(ncell, n0 + BLOCK_CELLS - 1)
         nb = n1 - n0 + 1
         allocate (bp(nb, NCASAPARAM), bm(nb, NMIMICSPARAM), bs(nb, NSTATE), bann(nb, NDIAG), bdaily(nb, NDIAG, ns))
         call gather_rows(ncell, NCASAPARAM, params, nb, order(n0:n1), bp)
         call gather_rows(ncell, NMIMICSPARAM, mparams, nb, order(n0:n1), bm)
         call gather_rows(ncell, NSTATE, state, nb, order(n0:n1), bs)
         call gather_rows(ncell, NDIAG, annual, nb, order(n0:n1), bann)
         do d = 1, ns
            if (store_daily /= 0) call gather_rows(ncell, NDIAG, daily(:, :, d), nb, order(n0:n1), bdaily(:, :, d))
         end do
         call mimics_block_days(nb, ncell, order(n0:n1), nday, icycle, doy0, init_npp_prev, fixes, bp, bm, bs, &
                                gpp, tair, ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, store_daily, ns, &
                                bdaily, bann)
         call scatter_rows(nb, NSTATE, bs, order(n0:n1), ncell, state)
         call scatter_rows(nb, NDIAG, bann, order(n0:n1), ncell, annual)
         do d = 1, ns
            if (store_daily /= 0) call scatter_rows(nb, NDIAG, bdaily(:, :, d), order(n0:n1), ncell, daily(:, :, d))
         end do
         deallocate (bp, bm, bs, bann, bdaily)
      end do
   end subroutine advance_mimics_impl

   !> advance_mimics_impl for one block of nb cells, the call's cells cells(1:nb) (arguments already checked):
   !> params to annual hold the block's rows, the forcing arrays all the call's ncell cells.
   subroutine mimics_block_days(nb, ncell, cells, nday, icycle, doy0, init_npp_prev, fixes, params, mparams, state, &
                                gpp, tair, ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, &
                                store_daily, nstore, daily, annual)
      integer, intent(in) :: nb, ncell, cells(nb), nday, icycle, doy0, init_npp_prev, store_daily, nstore
      integer, intent(in) :: fixes(NFIX)
      real(dp), intent(in) :: params(nb, NCASAPARAM), mparams(nb, NMIMICSPARAM)
      real(dp), intent(inout) :: state(nb, NSTATE)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, NSOIL_LAYERS, nday), moist(ncell, NSOIL_LAYERS, nday)
      real(sp), intent(in) :: frzn(ncell, NSOIL_LAYERS, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(nb, NDIAG, nstore)
      real(dp), intent(inout) :: annual(nb, NDIAG)

      type(veg_options) :: opt
      type(veg_day_work) :: w
      real(dp) :: cp(nb, NCP), q(nb, NQ), froot(nb, NSOIL_LAYERS), tsl(nb, NSOIL_LAYERS)
      real(dp) :: msl(nb, NSOIL_LAYERS), fzl(nb, NSOIL_LAYERS), dg(nb, NDIAG)
      real(dp) :: gppd(nb), taird(nb), ndepd(nb), frznavg(nb), s(nb)
      logical :: active(nb), keep_prev
      integer :: i, d, doy, k
      real(dp) :: u, x
      real(dp) :: cexl(nb)   ! root exudate C into LITm (route 0: all; route 1: the HMW share)
      logical :: kept(NDIAG)   ! the columns keep_day skips
      logical :: sasu_on, exud_diag_on   ! some cell reports the sasu_* fluxes / the exudate diagnostics

      opt%clamp_btran = fixes(FIX_CLAMP_BTRAN) /= 0
      opt%leaf_maint_resp = fixes(FIX_LEAF_MAINT_RESP) /= 0
      opt%constant_yield = fixes(FIX_CONSTANT_GROWTH_YIELD) /= 0
      opt%exudate_from_npp = .false.   ! the Q6 option applies to the CASA soil model only
      opt%casa_soil_mode = .false.
      opt%exud_on = exudation_on(nb, params)

      call veg_work_allocate(nb, params, w)
      call mimics_casa_constants(nb, params, cp)
      q = 0.0_dp
      call mimics_static(nb, mparams, cp, q)
      call casa_root_fractions(nb, params, fixes(FIX_CUMULATIVE_ROOT_DEPTH) /= 0, froot)
      do i = 1, nb
         active(i) = cell_active(params(i, P_IVT2))
      end do

      ! previous-year NPP of the first simulated year: half the year's GPP (3.4, Q10)
      if (init_npp_prev /= 0) then
         s = 0.0_dp
         do d = 1, nday
            do i = 1, nb
               s(i) = s(i) + real(gpp(cells(i), d), dp)/2.0_dp
            end do
         end do
         do i = 1, nb
            x = state(i, S_NPP_PREV)
            keep_prev = fixes(FIX_MIMICS_FIRST_YEAR_NPP) /= 0 .and. x > NPP_PREV_UNSET_BELOW
            if (keep_prev) cycle          ! (x > -99 is false for NaN)
            if (active(i)) then
               state(i, S_NPP_PREV) = s(i)
            else
               state(i, S_NPP_PREV) = 0.0_dp
            end if
         end do
      end if

      ! The diagnostics a day leaves unset are the same every day (they depend only on
      ! icycle and on whether a cell is active), so dg is zeroed once per call.
      dg = 0.0_dp
      ! blocks of diagnostics this call never sets (their routine is off) stay zero: keep_day skips them, and their
      ! annual sums and daily values stay the zeros they start as (tests/test_layout.py checks the blocks)
      sasu_on = any(mparams(:, M_SASU_DIAG) /= 0.0_dp)
      exud_diag_on = any(mparams(:, M_EXUD_DIAG) /= 0.0_dp)
      kept = .false.
      if (.not. sasu_on) then
         kept(D_SASU_OUT_CWOOD:D_SASU_CCWD_FROM_CWOOD) = .true.
         kept(D_SASU_OUT_LITM:D_SASU_LITS_FROM_CCWD) = .true.
      end if
      if (.not. exud_diag_on) kept(D_EXUD_UPTAKE:D_NECN_SOMA) = .true.
      if (.not. opt%exud_on) kept(D_NEXUDATE:D_CEXUDATE_CAPPED) = .true.
      do d = 1, nday
         doy = doy0 + d - 1
         ! ---- forcing (perturbations added in double after widening) ----
         call widen_forcing_day(nb, ncell, cells, nday, d, doy, params, gpp, tair, ndep, tsoil, moist, dtair, dtsoil, &
                                gppd, taird, ndepd, tsl, msl, dg(:, D_DRY_SPELL), dg(:, D_DRY_WETTER), &
                                dg(:, D_DRY_PSI_EFF))
         do k = 1, NSOIL_LAYERS
            do i = 1, nb
               fzl(i, k) = real(frzn(cells(i), k, d), dp)
            end do
         end do
         ! ---- step 3 (litter part): MIMICS lignin:N and fromPtoL from the start-of-day pools ----
         call mimics_coeffplant(nb, icycle, mparams, cp, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), q)
         ! ---- steps 1-4, 6, 7, 9 and 11 (plant parts): the vegetation day ----
         call casa_vegetation_day(nb, doy, icycle, opt, params, froot, taird, tsl, msl, npp_scalar, gppd, state, w)
         do k = 0, 2
            q(:, Q_KPLANT + k) = w%kplant(:, k + 1)
         end do
         call casa_avg_layers(nb, froot, fzl, frznavg)
         ! ---- step 5: CWD decay ----
         call mimics_cwd_rate(nb, cp, w%tsoilavg, w%moistavg, q)
         ! ---- step 7: CWD tendencies, litter inputs, daily fractions ----
         if (.not. opt%exud_on) then
            call mimics_delplant(nb, icycle, cp, w%cplant0, w%dnturn, state(:, S_CCWD), state(:, S_NCWD), w%cexud, q)
         else
            ! root exudation (seed_processes.md 1.3): route 1 (C+N) sends only the HMW share to LITm
            do i = 1, nb
               cexl(i) = w%cexud(i)
               if (icycle > 1 .and. mparams(i, M_EXUD_ROUTE) /= 0.0_dp) cexl(i) = mparams(i, M_EXUD_FHMW)*w%cexud(i)
            end do
            call mimics_delplant(nb, icycle, cp, w%cplant0, w%dnturn, state(:, S_CCWD), state(:, S_NCWD), cexl, q)
            call mimics_exudate_inputs(nb, icycle, mparams, cp, w%cexud, w%nexud, q)
         end if
         call mimics_fractions(nb, mparams, q)
         ! ---- step 8: 24 hours of MIMICS (+ CN mineral-N bookkeeping) ----
         call mimics_leach(nb, icycle, mparams, cp, state(:, S_NSOILMIN), q)
         call mimics_environment(nb, icycle, mparams, cp, w%tsoilavg, w%moistavg, frznavg, state(:, S_NPP_PREV), q)
         call mimics_hours(nb, icycle, mparams, cp, q, state(:, S_LITM:S_SOMP), state(:, S_LITMN:S_SOMPN))
         if (icycle > 1) call mimics_nbook(nb, cp, w%tsoilavg, state(:, S_NSOILMIN), ndepd, w%nup, q)
         ! ---- steps 9-10 (soil part): CWD and mineral N update, caccum ----
         call mimics_cycle(nb, icycle, cp, q, state(:, S_CCWD), state(:, S_NCWD), state(:, S_NSOILMIN))

         ! ---- diagnostics (column by column: unit stride) ----
         do k = 0, 2
            dg(:, D_CLEAF + k) = state(:, S_CLEAF + k)
            dg(:, D_NLEAF + k) = state(:, S_NLEAF + k)
            dg(:, D_CMET + k) = state(:, S_CMET + k)
            dg(:, D_NMET + k) = state(:, S_NMET + k)
            dg(:, D_CMIC + k) = state(:, S_CMIC + k)
            dg(:, D_NMIC + k) = state(:, S_NMIC + k)
            dg(:, D_RM_LEAF + k) = w%rm(:, 1 + k)
            dg(:, D_FA_LEAF + k) = w%fracc(:, 1 + k)
            dg(:, D_KP_LEAF + k) = q(:, Q_KPLANT + k)
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
         end do
         dg(:, D_RG) = w%rg
         dg(:, D_CLABLOSS) = w%clabloss
         dg(:, D_CEXUDATE) = w%cexud
         dg(:, D_FRACCLABILE) = w%fracclab
         dg(:, D_KL_CWD) = q(:, Q_KLIT_CWD)
         dg(:, D_CLITINPT_MET) = q(:, Q_CLITINPT_MET)
         dg(:, D_CLITINPT_STR) = q(:, Q_CLITINPT_STR)
         dg(:, D_NLITINPT_MET) = q(:, Q_NLITINPT_MET)
         dg(:, D_NLITINPT_STR) = q(:, Q_NLITINPT_STR)
         ! reported for every cell, as the original does (see casa_step)
         dg(:, D_NDEP) = ndepd
         dg(:, D_NFIX) = cp(:, CP_NMINFIX)
         dg(:, D_NUPTAKE) = w%nup
         dg(:, D_NLEACH) = q(:, Q_NMINLEACH)
         dg(:, D_NLOSS) = q(:, Q_NMINLOSS)
         dg(:, D_NLITTERMIN) = q(:, Q_NLITTERMIN)
         dg(:, D_NSOILMIN_GROSS) = q(:, Q_NSMIN)
         dg(:, D_NSOILIMMOB) = q(:, Q_NSIMM)
         dg(:, D_NNETMIN) = q(:, Q_NSNET)
         dg(:, D_XKNLIMITING) = w%xkn
         do i = 1, nb
            dg(i, D_TAIRC) = taird(i) - TKZERO
            dg(i, D_TSOILC) = w%tsoilavg(i) - TKZERO
         end do
         dg(:, D_MOISTAVG) = w%moistavg
         dg(:, D_BTRAN) = w%btran
         ! CASA thetaLiq / fT / fW are reset to 0 in MIMICS mode (casa.md 3.4 step 8)
         dg(:, D_FMET_LEAF) = q(:, Q_FMET_LEAF)
         do k = 0, 6
            do i = 1, nb
               dg(i, D_LITM + k) = state(i, S_LITM + k)*q(i, Q_U)
               dg(i, D_LITMN + k) = state(i, S_LITMN + k)*q(i, Q_U)
            end do
         end do
         do i = 1, nb
            u = q(i, Q_U)
            dg(i, D_DIN) = q(i, Q_DIN)*u
            dg(i, D_CHRESP) = q(i, Q_CHRESP)*u
            dg(i, D_RH) = dg(i, D_CHRESP)
            dg(i, D_NEP) = w%npp(i) - dg(i, D_RH)
            dg(i, D_CSOMPIN) = q(i, Q_CSOMPIN)*u
            dg(i, D_CLITINPUT_MET) = q(i, Q_CLITIN_MET)*u
            dg(i, D_CLITINPUT_STR) = q(i, Q_CLITIN_STR)*u
            dg(i, D_OVERFLOW_R) = q(i, Q_OVERFLOW_R)*u
            dg(i, D_OVERFLOW_K) = q(i, Q_OVERFLOW_K)*u
            dg(i, D_NLITINPUT_MET) = q(i, Q_NLITIN_MET)*u
            dg(i, D_NLITINPUT_STR) = q(i, Q_NLITIN_STR)*u
         end do
         dg(:, D_THETAFRZN) = q(:, Q_THETAFRZN)
         dg(:, D_FW_MIMICS) = q(:, Q_FW)
         dg(:, D_THETALIQ_MIMICS) = q(:, Q_THETALIQ)
         dg(:, D_PSI) = q(:, Q_PSI)
         dg(:, D_HET_CLAMPED) = q(:, Q_HET_CLAMPED)
         dg(:, D_FMET) = q(:, Q_FMET)
         dg(:, D_LIGNINNRATIO) = q(:, Q_LIGNINNRATIO)
         dg(:, D_TAUMOD) = q(:, Q_TAUMOD)
         dg(:, D_NPP_PREV) = state(:, S_NPP_PREV)
         dg(:, D_CWD2CO2) = q(:, Q_CWD2CO2)
         dg(:, D_CWD2STR) = q(:, Q_CWD2STR)
         dg(:, D_NEG_POOLS) = w%nneg
         ! mass created outside the physical fluxes (docs/kernel.md "Budgets"):
         ! C: NPP multiplier, exudate (counted in GPP and again as litter), plant clamps
         do i = 1, nb
            dg(i, D_C_QUIRK_SOURCE) = ((w%npp_raw(i)*npp_scalar - w%npp_raw(i)) + w%cexq(i)) + w%csrc(i)
         end do
         ! N: the 1e-10 of Nminuptake not given to plants, discarded plant N (Q12), clamps
         do i = 1, nb
            if (icycle > 1 .and. active(i)) then
               dg(i, D_N_QUIRK_SOURCE) = ((((w%nup(i)*w%fracn(i, 1) + w%nup(i)*w%fracn(i, 2)) &
                                            + w%nup(i)*w%fracn(i, 3)) - w%nup(i))) + w%nsrc(i)
            else if (.not. active(i)) then
               dg(i, D_N_QUIRK_SOURCE) = -(dg(i, D_NDEP) + dg(i, D_NFIX))
            end if
         end do
         if (opt%exud_on) then
            dg(:, D_NEXUDATE) = w%nexud
            dg(:, D_NEXUDATE_EXT) = w%nexext
            dg(:, D_CEXUDATE_CAPPED) = w%ccap
         end if
         if (exud_diag_on) call mimics_exudate_diagnostics(nb, q, dg)
         if (sasu_on) call mimics_sasu_fluxes(nb, mparams, q, w%cplant0(:, PLANT_FROOT), dg)
         call keep_day(nb, dg, kept, annual, daily(:, :, min(d, nstore)), store_daily /= 0, &
                       DIAG_MIMICS_FIRST, DIAG_MIMICS_LAST)
      end do

      ! end of the year: the year's NPP sum becomes the previous-year NPP (3.4)
      if (doy0 + nday - 1 == 365) then
         do i = 1, nb
            state(i, S_NPP_PREV) = annual(i, D_NPP)
         end do
      end if
   end subroutine mimics_block_days

   !> The microbial diagnostics of the day (seed_processes.md 1.6) from the hourly sums, in g m-2 d-1.
   subroutine mimics_exudate_diagnostics(nb, q, dg)
      integer, intent(in) :: nb
      real(dp), intent(in) :: q(nb, NQ)
      real(dp), intent(inout) :: dg(nb, NDIAG)
      integer :: i, k
      real(dp) :: u, ru, rr
      do i = 1, nb
         u = q(i, Q_U)
         dg(i, D_EXUD_UPTAKE) = q(i, Q_EXUP)*u
         dg(i, D_UPTAKE_R) = q(i, Q_UP_R)*u
         dg(i, D_UPTAKE_K) = q(i, Q_UP_K)*u
         dg(i, D_RESP_R) = q(i, Q_RS_R)*u
         dg(i, D_RESP_K) = q(i, Q_RS_K)*u
         do k = 0, 2
            dg(i, D_NEC_SOMP + k) = q(i, Q_NEC + k)*u
            dg(i, D_NECN_SOMP + k) = q(i, Q_NECN + k)*u
         end do
         dg(i, D_CUE_R) = 0.0_dp
         dg(i, D_CUE_K) = 0.0_dp
         dg(i, D_CUE_MIC) = 0.0_dp
         dg(i, D_OVERFLOW_SHARE) = 0.0_dp
         if (q(i, Q_UP_R) > 0.0_dp) dg(i, D_CUE_R) = 1.0_dp - q(i, Q_RS_R)/q(i, Q_UP_R)
         if (q(i, Q_UP_K) > 0.0_dp) dg(i, D_CUE_K) = 1.0_dp - q(i, Q_RS_K)/q(i, Q_UP_K)
         ru = q(i, Q_UP_R) + q(i, Q_UP_K)
         rr = q(i, Q_RS_R) + q(i, Q_RS_K)
         if (ru > 0.0_dp) dg(i, D_CUE_MIC) = 1.0_dp - rr/ru
         if (rr > 0.0_dp) dg(i, D_OVERFLOW_SHARE) = (q(i, Q_OVERFLOW_R) + q(i, Q_OVERFLOW_K))/rr
      end do
   end subroutine mimics_exudate_diagnostics

   !> The day's carbon outflux of each pool and the carbon transfers between the pools (dg columns D_SASU_*,
   !> g m-2 d-1; docs/spinup.md "sasu") from the hourly sums (Q_SASU). Uptake enters a microbe at its growth
   !> efficiency (the rest is respired); overflow respiration is part of a microbe's outflux. Also the host
   !> vegetation's wood, fine-root and CWD turnover (start-of-day pools, g m-2 d-1) and their transfers into CWD
   !> and the litter pools (root exudate is an input of LITm, not a transfer from the roots). Diagnostics only.
   subroutine mimics_sasu_fluxes(nb, mp, q, cfroot0, dg)
      integer, intent(in) :: nb
      real(dp), intent(in) :: mp(nb, NMIMICSPARAM), q(nb, NQ), cfroot0(nb)
      real(dp), intent(inout) :: dg(nb, NDIAG)
      integer :: i
      real(dp) :: u, f(NSASU)
      do i = 1, nb
         u = q(i, Q_U)
         f = q(i, Q_SASU:Q_SASU + NSASU - 1)*u
         dg(i, D_SASU_OUT_LITM) = f(SX_LITMIN + 1) + f(SX_LITMIN + 3)
         dg(i, D_SASU_OUT_LITS) = f(SX_LITMIN + 2) + f(SX_LITMIN + 4)
         dg(i, D_SASU_OUT_SOMA) = f(SX_SOMMIN + 1) + f(SX_SOMMIN + 2)
         dg(i, D_SASU_OUT_SOMC) = f(SX_OXIDAT + 1)
         dg(i, D_SASU_OUT_SOMP) = f(SX_DESORP + 1)
         dg(i, D_SASU_OUT_MICR) = ((f(SX_TRN + 1) + f(SX_TRN + 2)) + f(SX_TRN + 3)) + f(SX_OVF + 1)
         dg(i, D_SASU_OUT_MICK) = ((f(SX_TRN + 4) + f(SX_TRN + 5)) + f(SX_TRN + 6)) + f(SX_OVF + 2)
         dg(i, D_SASU_MICR_FROM_LITM) = mp(i, M_MGE)*f(SX_LITMIN + 1)
         dg(i, D_SASU_MICR_FROM_LITS) = mp(i, M_MGE + 1)*f(SX_LITMIN + 2)
         dg(i, D_SASU_MICR_FROM_SOMA) = mp(i, M_MGE)*f(SX_SOMMIN + 1)
         dg(i, D_SASU_MICK_FROM_LITM) = mp(i, M_MGE + 2)*f(SX_LITMIN + 3)
         dg(i, D_SASU_MICK_FROM_LITS) = mp(i, M_MGE + 3)*f(SX_LITMIN + 4)
         dg(i, D_SASU_MICK_FROM_SOMA) = mp(i, M_MGE + 2)*f(SX_SOMMIN + 2)
         dg(i, D_SASU_SOMP_FROM_MICR) = f(SX_TRN + 1)
         dg(i, D_SASU_SOMC_FROM_MICR) = f(SX_TRN + 2)
         dg(i, D_SASU_SOMA_FROM_MICR) = f(SX_TRN + 3)
         dg(i, D_SASU_SOMP_FROM_MICK) = f(SX_TRN + 4)
         dg(i, D_SASU_SOMC_FROM_MICK) = f(SX_TRN + 5)
         dg(i, D_SASU_SOMA_FROM_MICK) = f(SX_TRN + 6)
         dg(i, D_SASU_SOMA_FROM_SOMP) = f(SX_DESORP + 1)
         dg(i, D_SASU_SOMA_FROM_SOMC) = f(SX_OXIDAT + 1)
         dg(i, D_SASU_OUT_CWOOD) = q(i, Q_CWOOD2CWD)
         dg(i, D_SASU_CCWD_FROM_CWOOD) = q(i, Q_CWOOD2CWD)
         dg(i, D_SASU_LITM_FROM_CFROOT) = (q(i, Q_FMET_FROOT)*q(i, Q_KPLANT + PLANT_FROOT - 1))*cfroot0(i)
         dg(i, D_SASU_LITS_FROM_CFROOT) = ((1.0_dp - q(i, Q_FMET_FROOT))*q(i, Q_KPLANT + PLANT_FROOT - 1))*cfroot0(i)
         dg(i, D_SASU_OUT_CFROOT) = dg(i, D_SASU_LITM_FROM_CFROOT) + dg(i, D_SASU_LITS_FROM_CFROOT)
         dg(i, D_SASU_LITS_FROM_CCWD) = q(i, Q_CWD2STR)
         dg(i, D_SASU_OUT_CCWD) = q(i, Q_CWD2CO2) + q(i, Q_CWD2STR)
      end do
   end subroutine mimics_sasu_fluxes

end module mimics_step
