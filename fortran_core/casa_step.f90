!> CASA-CNP vegetation + CASA-CN soil: initialisation, daily driver and the
!> restart-write reset (spec casa.md 3.4, 6.1, 6.2, 8 Q5). See docs/kernel.md for
!> the argument conventions and docs/casa_kernel_notes.md for the design notes.
module casa_step
   use tb_precision, only: dp, sp, TKZERO
   use tb_layout
   use casa_veg
   use casa_veg_day
   use casa_soil
   use tb_exudation, only: exudation_on
   implicit none
   private
   public :: casa_initialise_impl, advance_casa_impl, casa_restart_write_reset_impl

contains

   !> Cold start (cold_start /= 0, casa.md 6.1) or restart (6.2) adjustments of a
   !> state that Python filled from the PFT table / restart file.
   subroutine casa_initialise_impl(ncell, icycle, cold_start, fixes, nfix, params, npar, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, cold_start, nfix, npar, nst
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      integer :: n, i, ivt2
      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nst /= NSTATE .or. nfix /= NFIX) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      if (icycle < 1 .or. icycle > 2) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      do n = 1, ncell
         if (cold_start /= 0) then
            ivt2 = nint(params(n, P_IVT2))
            if (.not. (ivt2 == 2 .or. ivt2 == 3)) then
               state(n, S_CWOOD) = 0.0_dp
               state(n, S_CCWD) = 0.0_dp
               state(n, S_NWOOD) = 0.0_dp
               state(n, S_NCWD) = 0.0_dp
               state(n, S_PWOOD) = 0.0_dp
            end if
            state(n, S_NSTR) = state(n, S_CSTR)*(1.0_dp/150.0_dp)
            state(n, S_LAI) = max(params(n, P_LAIMIN), params(n, P_SLA)*state(n, S_CLEAF))
         end if
         state(n, S_CLABILE) = 0.0_dp
         do i = 0, 2
            state(n, S_CLEAF + i) = max(0.0_dp, state(n, S_CLEAF + i))
            state(n, S_CMET + i) = max(0.0_dp, state(n, S_CMET + i))
            state(n, S_CMIC + i) = max(0.0_dp, state(n, S_CMIC + i))
         end do
         if (icycle == 1) then
            state(n, S_NLEAF) = state(n, S_CLEAF)*(1.0_dp/params(n, P_CN_LEAF))
            state(n, S_NWOOD) = state(n, S_CWOOD)*(1.0_dp/params(n, P_CN_WOOD))
            state(n, S_NFROOT) = state(n, S_CFROOT)*(1.0_dp/params(n, P_CN_FROOT))
            do i = 0, 2
               state(n, S_NMIC + i) = (1.0_dp/params(n, P_CN_MIC + i))*state(n, S_CMIC + i)
            end do
            state(n, S_NSOILMIN) = 2.5_dp
         else
            do i = 0, 2
               state(n, S_NLEAF + i) = max(1.0e-6_dp, state(n, S_NLEAF + i))
               state(n, S_NMET + i) = max(1.0e-6_dp, state(n, S_NMET + i))
               state(n, S_NMIC + i) = max(1.0e-6_dp, state(n, S_NMIC + i))
            end do
            state(n, S_NSOILMIN) = max(1.0e-6_dp, state(n, S_NSOILMIN))
         end if
      end do
   end subroutine casa_initialise_impl

   !> casa.md 8 Q5: state side effects of the original's restart-file write.
   subroutine casa_restart_write_reset_impl(ncell, icycle, params, npar, state, nst, ierr)
      integer, intent(in) :: ncell, icycle, npar, nst
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(inout) :: state(ncell, nst)
      integer, intent(out) :: ierr
      integer :: n, i, ivt2
      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nst /= NSTATE) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      if (icycle < 1 .or. icycle > 3) then
         ierr = ERR_BAD_ARGUMENT
         return
      end if
      do n = 1, ncell
         ivt2 = nint(params(n, P_IVT2))
         if (ivt2 == 0) then
            ! icewater: every CASA pool (C, N incl. mineral N, P, labile) is zeroed
            state(n, S_CLEAF:S_NSOILMIN) = 0.0_dp
            cycle
         end if
         if (icycle >= 3) cycle
         if (icycle < 2) then
            state(n, S_NLEAF) = (1.0_dp/params(n, P_CN_LEAF))*state(n, S_CLEAF)
            state(n, S_NWOOD) = (1.0_dp/params(n, P_CN_WOOD))*state(n, S_CWOOD)
            state(n, S_NFROOT) = (1.0_dp/params(n, P_CN_FROOT))*state(n, S_CFROOT)
            do i = 0, 2
               state(n, S_NMET + i) = params(n, P_NCLITTER_MET + i)*state(n, S_CMET + i)
               state(n, S_NMIC + i) = (1.0_dp/params(n, P_CN_MIC + i))*state(n, S_CMIC + i)
            end do
            state(n, S_NSOILMIN) = 2.0_dp
            if (ivt2 == 1) then
               state(n, S_NWOOD) = 0.0_dp
               state(n, S_NCWD) = 0.0_dp
            end if
         end if
         state(n, S_PLEAF) = state(n, S_NLEAF)/params(n, P_NP_LEAF_MIN)
         state(n, S_PWOOD) = state(n, S_NWOOD)/params(n, P_NP_WOOD_MIN)
         state(n, S_PFROOT) = state(n, S_NFROOT)/params(n, P_NP_FROOT_MIN)
         if (ivt2 == 1) state(n, S_PWOOD) = 0.0_dp
      end do
   end subroutine casa_restart_write_reset_impl

   !> nday days of CASA-CNP + CASA soil (casa.md 3.4), state updated in place.
   !> Cells are independent: they are run in blocks of BLOCK_CELLS cells, each block
   !> through all nday days, so that a block's state and work arrays stay in cache.
   subroutine advance_casa_impl(ncell, nday, icycle, doy0, fixes, nfix, params, npar, state, nst, &
                                gpp, tair, ndep, tsoil, moist, frzn, dtair, dtsoil, npp_scalar, &
                                store_daily, nstore, daily, ndg, annual, ierr)
      integer, intent(in) :: ncell, nday, icycle, doy0, nfix, npar, nst, store_daily, nstore, ndg
      integer, intent(in) :: fixes(nfix)
      real(dp), intent(in) :: params(ncell, npar)
      real(dp), intent(inout) :: state(ncell, nst)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, 6, nday), moist(ncell, 6, nday), frzn(ncell, 6, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(ncell, ndg, nstore)
      real(dp), intent(inout) :: annual(ncell, ndg)
      integer, intent(out) :: ierr
      integer :: n0, n1, k
      integer :: cells(BLOCK_CELLS)

      ierr = advance_argument_error(npar, 0, 0, nst, ndg, nfix, icycle, nday, doy0, store_daily, nstore)
      if (ierr /= ERR_OK) return
      if (ncell < 1) return
      do n0 = 1, ncell, BLOCK_CELLS
         n1 = min(ncell, n0 + BLOCK_CELLS - 1)
         do k = 1, n1 - n0 + 1
            cells(k) = n0 + k - 1
         end do
         call casa_block_days(n1 - n0 + 1, ncell, cells, nday, icycle, doy0, fixes, params(n0:n1, :), &
                              state(n0:n1, :), gpp, tair, ndep, tsoil, moist, dtair, dtsoil, npp_scalar, &
                              store_daily, nstore, daily(n0:n1, :, :), annual(n0:n1, :))
      end do
   end subroutine advance_casa_impl

   !> advance_casa_impl for one block of nb cells, the call's cells cells(1:nb) (arguments already checked):
   !> params to annual hold the block's rows, the forcing arrays all the call's ncell cells.
   subroutine casa_block_days(nb, ncell, cells, nday, icycle, doy0, fixes, params, state, gpp, tair, ndep, tsoil, &
                              moist, dtair, dtsoil, npp_scalar, store_daily, nstore, daily, annual)
      integer, intent(in) :: nb, ncell, cells(nb), nday, icycle, doy0, store_daily, nstore
      integer, intent(in) :: fixes(NFIX)
      real(dp), intent(in) :: params(nb, NCASAPARAM)
      real(dp), intent(inout) :: state(nb, NSTATE)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, NSOIL_LAYERS, nday), moist(ncell, NSOIL_LAYERS, nday)
      real(dp), intent(in) :: dtair, dtsoil, npp_scalar
      real(dp), intent(inout) :: daily(nb, NDIAG, nstore)
      real(dp), intent(inout) :: annual(nb, NDIAG)

      type(veg_options) :: opt
      type(veg_day_work) :: w
      logical :: fix_nmin
      integer :: d, doy, n, i
      real(dp) :: froot(nb, NSOIL_LAYERS), ltos(nb, 3, 3), stos(nb, 3, 3), lco2(nb, 3), sco2(nb, 3)
      real(dp) :: tsl(nb, NSOIL_LAYERS), msl(nb, NSOIL_LAYERS), gppd(nb), tairk(nb), ndepd(nb)
      real(dp) :: fmet_l(nb), fmet_r(nb), thetaliq(nb), ft(nb), fw(nb), xklit(nb), xksoil(nb)
      real(dp) :: klitter(nb, 3), ksoil(nb, 3), fcl(nb, 3), fnl(nb, 3), kfac(nb, NKFAC)
      real(dp) :: clit_met(nb), clit_str(nb), nlit_met(nb), nlit_str(nb)
      real(dp) :: dclit(nb, 3), dcsoil(nb, 3), dnlit(nb, 3), dnsoil(nb, 3), dnmin(nb)
      real(dp) :: crsoil(nb), cpass(nb), cwd2str(nb), nlitmin(nb), nsmin(nb), nsimm(nb), nsnet(nb)
      real(dp) :: nloss(nb), nleach(nb), nsrc_q9(nb), csrc_s(nb), nsrc_s(nb), nneg_s(nb)
      real(dp) :: dg(nb, NDIAG), ncwd0(nb), nfix(nb)
      logical :: active(nb), any_het
      logical :: ex_route1                  ! some cell sends exudate to the microbial pool (CASA route 1)
      real(dp) :: cexl(nb), exs(nb, 3)      ! exudate C to litter; route 1: C to mic, C respired, N
      real(dp) :: nalloc_sum
      logical :: kept(NDIAG)                ! the columns keep() adds to the annual sums itself
      logical :: sasu_on                    ! some cell reports the sasu_* fluxes (P_SASU_DIAG)

      opt%clamp_btran = fixes(FIX_CLAMP_BTRAN) /= 0
      opt%leaf_maint_resp = fixes(FIX_LEAF_MAINT_RESP) /= 0
      opt%constant_yield = fixes(FIX_CONSTANT_GROWTH_YIELD) /= 0
      opt%exudate_from_npp = fixes(FIX_EXUDATE_FROM_NPP) /= 0
      opt%casa_soil_mode = .true.
      opt%exud_on = exudation_on(nb, params)
      ex_route1 = opt%exud_on .and. any(params(:, P_EXUD_ROUTE_CASA) /= 0.0_dp)
      fix_nmin = fixes(FIX_FLOOR_MINERAL_N) /= 0

      ! time-invariant per-cell quantities
      call veg_work_allocate(nb, params, w)
      call casa_root_fractions(nb, params, fixes(FIX_CUMULATIVE_ROOT_DEPTH) /= 0, froot)
      call casa_transfer_coeffs(nb, params, ltos, stos, lco2, sco2)
      call casa_soil_rate_factors(nb, params, kfac)
      do n = 1, nb
         active(n) = cell_active(params(n, P_IVT2))
         nfix(n) = params(n, P_NFIXRATE)/365.0_dp
      end do
      any_het = any(params(:, P_HET_LIN) /= 0.0_dp)

      ! The diagnostics a day leaves unset are the same every day (they depend only on
      ! icycle and on whether a cell is active), so dg is zeroed once per call.
      dg = 0.0_dp
      kept = .false.
      ! The soil model's own diagnostics (testbed/soil/casa.toml: the sasu_* fluxes only) cost a tenth of a day's
      ! work; they are reported only where a sasu stage asks for them and otherwise stay 0.
      sasu_on = any(params(:, P_SASU_DIAG) /= 0.0_dp)
      ! ... and so are the host's (testbed/layout.toml): while off, keep_day skips their annual sums, which stay 0
      if (.not. sasu_on) kept(D_SASU_OUT_CWOOD:D_SASU_CCWD_FROM_CWOOD) = .true.
      do d = 1, nday
         doy = doy0 + d - 1
         call widen_forcing_day(nb, ncell, cells, nday, d, doy, params, gpp, tair, ndep, tsoil, moist, dtair, dtsoil, &
                                gppd, tairk, ndepd, tsl, msl, dg(:, D_DRY_SPELL), dg(:, D_DRY_WETTER), &
                                dg(:, D_DRY_PSI_EFF))
         ! litter partitioning from the start-of-day plant pools, then the vegetation day
         ! (2-11, 14, the plant parts of 15-16, 17 and 18), which updates the plant pools
         call casa_litter_fmet(nb, params, state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), fmet_l, fmet_r)
         call casa_vegetation_day(nb, doy, icycle, opt, params, froot, tairk, tsl, msl, npp_scalar, gppd, state, w)
         ! 12-13
         call casa_xratesoil(nb, params, w%tsoilavg, w%moistavg, thetaliq, ft, fw, xklit, xksoil, dg(:, D_PSI))
         call casa_coeffsoil(nb, params, kfac, xklit, xksoil, klitter, ksoil)
         if (icycle > 1) then
            do i = 1, 3
               do n = 1, nb
                  klitter(n, i) = klitter(n, i)*w%xkn(n)
               end do
            end do
         end if
         if (any_het) then
            ! sub-grid heterogeneity of the linear decay fluxes, after xkN (seed_processes.md 3.2)
            do n = 1, nb
               if (params(n, P_HET_LIN) == 0.0_dp) cycle
               do i = 1, 3
                  klitter(n, i) = klitter(n, i)*params(n, P_HET_PHI + i - 1)
                  ksoil(n, i) = ksoil(n, i)*params(n, P_HET_PHI + i + 2)
               end do
            end do
         end if
         ! 15-16 (litter and soil)
         if (.not. opt%exud_on) then
            call casa_litterfall(nb, params, icycle, w%cexud, w%kplant, w%cplant0, fmet_l, fmet_r, w%dnturn, &
                                 fcl, fnl, clit_met, clit_str, nlit_met, nlit_str)
         else
            ! root exudation (seed_processes.md 1.4): route 0 into metabolic litter with its N,
            ! route 1 into the microbial pool with carbon-use efficiency exud_cue
            do n = 1, nb
               cexl(n) = w%cexud(n)
               exs(n, :) = 0.0_dp
               if (params(n, P_EXUD_ROUTE_CASA) /= 0.0_dp) then
                  cexl(n) = 0.0_dp
                  exs(n, 1) = params(n, P_EXUD_CUE)*w%cexud(n)
                  exs(n, 2) = (1.0_dp - params(n, P_EXUD_CUE))*w%cexud(n)
                  exs(n, 3) = w%nexud(n)
               end if
            end do
            call casa_litterfall(nb, params, icycle, cexl, w%kplant, w%cplant0, fmet_l, fmet_r, w%dnturn, &
                                 fcl, fnl, clit_met, clit_str, nlit_met, nlit_str)
            if (icycle > 1) then
               do n = 1, nb
                  if (params(n, P_EXUD_ROUTE_CASA) /= 0.0_dp) cycle
                  fnl(n, 1) = fnl(n, 1) + w%nexud(n)
                  nlit_met(n) = nlit_met(n) + w%nexud(n)
               end do
            end if
         end if
         if (ex_route1) then
            call casa_delsoil(nb, params, icycle, klitter, ksoil, ltos, stos, lco2, sco2, w%rnew, &
                              state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), state(:, S_NMET:S_NCWD), &
                              state(:, S_NMIC:S_NPASS), state(:, S_NSOILMIN), w%tsoilavg, ndepd, w%nup, fcl, fnl, &
                              dclit, dcsoil, dnlit, dnsoil, dnmin, crsoil, cpass, cwd2str, nlitmin, nsmin, &
                              nsimm, nsnet, nloss, nleach, nsrc_q9, exs)
         else
            call casa_delsoil(nb, params, icycle, klitter, ksoil, ltos, stos, lco2, sco2, w%rnew, &
                              state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), state(:, S_NMET:S_NCWD), &
                              state(:, S_NMIC:S_NPASS), state(:, S_NSOILMIN), w%tsoilavg, ndepd, w%nup, fcl, fnl, &
                              dclit, dcsoil, dnlit, dnsoil, dnmin, crsoil, cpass, cwd2str, nlitmin, nsmin, &
                              nsimm, nsnet, nloss, nleach, nsrc_q9)
         end if
         if (sasu_on) call casa_sasu_fluxes(nb, klitter, ksoil, ltos, stos, w%kplant, w%cplant0, fmet_l, fmet_r, &
                               state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), dg)
         ! 17
         ncwd0 = state(:, S_NCWD)
         call casa_soil_update(nb, params, icycle, dclit, dcsoil, dnlit, dnsoil, dnmin, &
                               state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), state(:, S_NMET:S_NCWD), &
                               state(:, S_NMIC:S_NPASS), state(:, S_NSOILMIN), csrc_s, nsrc_s, nneg_s)
         if (fix_nmin .and. icycle > 1) then
            ! Q10 option: mineral N is floored at 0; the N added is reported as a quirk source
            do n = 1, nb
               if (active(n) .and. state(n, S_NSOILMIN) < 0.0_dp) then
                  nsrc_s(n) = nsrc_s(n) - state(n, S_NSOILMIN)
                  state(n, S_NSOILMIN) = 0.0_dp
               end if
            end do
         end if

         ! ---------------------------------------------------- diagnostics
         do i = 0, 2
            call keep(D_CLEAF + i, state(:, S_CLEAF + i))
            call keep(D_NLEAF + i, state(:, S_NLEAF + i))
            call keep(D_CMET + i, state(:, S_CMET + i))
            call keep(D_NMET + i, state(:, S_NMET + i))
            call keep(D_CMIC + i, state(:, S_CMIC + i))
            call keep(D_NMIC + i, state(:, S_NMIC + i))
            call keep(D_RM_LEAF + i, w%rm(:, 1 + i))
            call keep(D_FA_LEAF + i, w%fracc(:, 1 + i))
            call keep(D_KP_LEAF + i, w%kplant(:, 1 + i))
            call keep(D_KL_MET + i, klitter(:, 1 + i))
            call keep(D_KS_MIC + i, ksoil(:, 1 + i))
         end do
         call keep(D_CLABILE, state(:, S_CLABILE))
         call keep(D_NSOILMIN, state(:, S_NSOILMIN))
         call keep(D_LAI, state(:, S_LAI))
         call keep(D_PHASE, state(:, S_PHASE))
         call keep(D_PLEAF, state(:, S_PLEAF))
         call keep(D_GPP, gppd)
         call keep(D_NPP, w%npp)
         do n = 1, nb
            dg(n, D_RA) = ((w%rm(n, 1) + w%rm(n, 2)) + w%rm(n, 3)) + w%rg(n)
            dg(n, D_NEP) = w%npp(n) - crsoil(n)
            dg(n, D_TAIRC) = tairk(n) - TKZERO
            dg(n, D_TSOILC) = w%tsoilavg(n) - TKZERO
         end do
         call keep(D_RH, crsoil)
         call keep(D_RG, w%rg)
         call keep(D_CLABLOSS, w%clabloss)
         call keep(D_CEXUDATE, w%cexud)
         call keep(D_FRACCLABILE, w%fracclab)
         call keep(D_CLITINPT_MET, clit_met)
         call keep(D_CLITINPT_STR, clit_str + cwd2str)
         call keep(D_CPASSINPT, cpass)
         call keep(D_XKNLIMITING, w%xkn)
         call keep(D_MOISTAVG, w%moistavg)
         call keep(D_BTRAN, w%btran)
         call keep(D_THETALIQ, thetaliq)
         call keep(D_FT, ft)
         call keep(D_FW, fw)
         call keep(D_FMET_LEAF, fmet_l)
         call keep(D_NEG_POOLS, w%nneg + nneg_s)
         ! deposition and fixation are reported for every cell, as the original does; on
         ! inactive (ice/water) cells they enter no pool, which the N budget books as a sink
         do n = 1, nb
            dg(n, D_NDEP) = ndepd(n)
            dg(n, D_NFIX) = nfix(n)
            if (.not. active(n)) then
               dg(n, D_N_QUIRK_SOURCE) = -(dg(n, D_NDEP) + dg(n, D_NFIX))
            end if
         end do
         ! C created outside the physical fluxes: exudate, NPP scalar, clamps
         do n = 1, nb
            if (active(n)) then
               if (opt%exudate_from_npp) then
                  dg(n, D_C_QUIRK_SOURCE) = ((npp_scalar - 1.0_dp)*w%npp_raw(n) + w%csrc(n)) + csrc_s(n)
               else
                  dg(n, D_C_QUIRK_SOURCE) = ((w%cexq(n) + (npp_scalar - 1.0_dp)*w%npp_raw(n)) + w%csrc(n)) &
                                            + csrc_s(n)
               end if
            end if
         end do
         if (icycle > 1) then
            call keep(D_NLITINPT_MET, nlit_met)
            call keep(D_NUPTAKE, w%nup)
            call keep(D_NLEACH, nleach)
            call keep(D_NLOSS, nloss)
            call keep(D_NLITTERMIN, nlitmin)
            call keep(D_NSOILMIN_GROSS, nsmin)
            call keep(D_NSOILIMMOB, nsimm)
            call keep(D_NNETMIN, nsnet)
            do n = 1, nb
               if (.not. active(n)) cycle
               ! intended NlitInptStruc (Q20): + k_cwd * N_cwd (start-of-day N_cwd)
               dg(n, D_NLITINPT_STR) = nlit_str(n) + klitter(n, 3)*ncwd0(n)
               ! uptake handed to the plant is sum(nup*fracn) = nup - 1e-10 (+ rounding)
               nalloc_sum = (w%nup(n)*w%fracn(n, 1) + w%nup(n)*w%fracn(n, 2)) + w%nup(n)*w%fracn(n, 3)
               dg(n, D_N_QUIRK_SOURCE) = (((nalloc_sum - w%nup(n)) + nsrc_q9(n)) + w%nsrc(n)) + nsrc_s(n)
            end do
         end if

         if (opt%exud_on) then
            ! root exudation diagnostics (seed_processes.md 1.6)
            call keep(D_NEXUDATE, w%nexud)
            call keep(D_NEXUDATE_EXT, w%nexext)
            call keep(D_CEXUDATE_CAPPED, w%ccap)
            if (ex_route1) call keep(D_HR_EXUDATE, exs(:, 2))
         end if
         call keep_day(nb, dg, kept, annual, daily(:, :, min(d, nstore)), store_daily /= 0, &
                       merge(DIAG_CASA_FIRST, 1, sasu_on), merge(DIAG_CASA_LAST, 0, sasu_on))
      end do

   contains

      !> Column k of the day's diagnostics is v: added to the annual sums (and stored as the day's value) here, in
      !> one pass, instead of being copied into dg for keep_day; kept(k) tells keep_day to leave the column alone.
      subroutine keep(k, v)
         integer, intent(in) :: k
         real(dp), intent(in) :: v(nb)
         integer :: n
         do n = 1, nb
            annual(n, k) = annual(n, k) + v(n)
         end do
         if (store_daily /= 0) daily(:, k, min(d, nstore)) = v
         kept(k) = .true.
      end subroutine keep
   end subroutine casa_block_days

   ! ------------------------------------------------------------------ semi-analytic spin-up diagnostics
   !> The day's carbon outflux k x of each donor-controlled pool (start-of-day pools) and the carbon
   !> transfer fluxes between them (dg columns D_SASU_*; docs/spinup.md "sasu"). Diagnostics only.
   subroutine casa_sasu_fluxes(nb, klitter, ksoil, ltos, stos, kplant, cplant0, fmet_l, fmet_r, clitter, csoil, dg)
      integer, intent(in) :: nb
      real(dp), intent(in) :: klitter(nb, 3), ksoil(nb, 3), ltos(nb, 3, 3), stos(nb, 3, 3)
      real(dp), intent(in) :: kplant(nb, 3), cplant0(nb, 3), fmet_l(nb), fmet_r(nb)
      real(dp), intent(in) :: clitter(nb, 3), csoil(nb, 3)
      real(dp), intent(inout) :: dg(nb, NDIAG)
      real(dp) :: outl(3), outs(3)
      integer :: n, i
      do n = 1, nb
         do i = 1, 3
            outl(i) = klitter(n, i)*clitter(n, i)
            outs(i) = ksoil(n, i)*csoil(n, i)
         end do
         ! column by name (the wood, fine-root and CWD columns are the host's, declared apart from CASA's own)
         dg(n, D_SASU_OUT_CMIC) = outs(1)
         dg(n, D_SASU_OUT_CSLOW) = outs(2)
         dg(n, D_SASU_OUT_CPASS) = outs(3)
         dg(n, D_SASU_OUT_CLEAF) = kplant(n, 1)*cplant0(n, 1)
         dg(n, D_SASU_OUT_CWOOD) = kplant(n, 2)*cplant0(n, 2)
         dg(n, D_SASU_OUT_CFROOT) = kplant(n, 3)*cplant0(n, 3)
         dg(n, D_SASU_OUT_CMET) = outl(1)
         dg(n, D_SASU_OUT_CSTR) = outl(2)
         dg(n, D_SASU_OUT_CCWD) = outl(3)
         dg(n, D_SASU_CMET_FROM_CLEAF) = fmet_l(n)*dg(n, D_SASU_OUT_CLEAF)
         dg(n, D_SASU_CSTR_FROM_CLEAF) = (1.0_dp - fmet_l(n))*dg(n, D_SASU_OUT_CLEAF)
         dg(n, D_SASU_CMET_FROM_CFROOT) = fmet_r(n)*dg(n, D_SASU_OUT_CFROOT)
         dg(n, D_SASU_CSTR_FROM_CFROOT) = (1.0_dp - fmet_r(n))*dg(n, D_SASU_OUT_CFROOT)
         dg(n, D_SASU_CCWD_FROM_CWOOD) = dg(n, D_SASU_OUT_CWOOD)
         dg(n, D_SASU_CMIC_FROM_CMET) = ltos(n, 1, 1)*outl(1)
         dg(n, D_SASU_CMIC_FROM_CSTR) = ltos(n, 1, 2)*outl(2)
         dg(n, D_SASU_CSLOW_FROM_CSTR) = ltos(n, 2, 2)*outl(2)
         dg(n, D_SASU_CMIC_FROM_CCWD) = ltos(n, 1, 3)*outl(3)
         dg(n, D_SASU_CSLOW_FROM_CCWD) = ltos(n, 2, 3)*outl(3)
         dg(n, D_SASU_CSLOW_FROM_CMIC) = stos(n, 2, 1)*outs(1)
         dg(n, D_SASU_CPASS_FROM_CMIC) = stos(n, 3, 1)*outs(1)
         dg(n, D_SASU_CPASS_FROM_CSLOW) = stos(n, 3, 2)*outs(2)
      end do
   end subroutine casa_sasu_fluxes

end module casa_step
