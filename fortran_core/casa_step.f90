!> CASA-CNP vegetation + CASA-CN soil: initialisation, daily driver and the
!> restart-write reset (spec casa.md 3.4, 6.1, 6.2, 8 Q5). See docs/kernel.md for
!> the argument conventions and docs/casa_kernel_notes.md for the design notes.
module casa_step
   use tb_precision, only: dp, sp, TKZERO
   use tb_layout
   use casa_veg
   use casa_soil
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

      logical :: fix_depth, fix_btran, fix_rmleaf, fix_ygrow, fix_exud, fix_nmin
      integer :: d, doy, n, i, l
      real(dp), allocatable :: froot(:, :), ltos(:, :, :), stos(:, :, :), lco2(:, :), sco2(:, :)
      real(dp), allocatable :: rnew(:, :), tsl(:, :), msl(:, :), gppd(:), tairk(:), ndepd(:)
      real(dp), allocatable :: tsoilavg(:), moistavg(:), btran(:)
      real(dp), allocatable :: rm(:, :), rg(:), npp(:), npp_raw(:), clabloss(:), fracc(:, :)
      real(dp), allocatable :: kcold(:), kdry(:), xkleaf(:), cexud(:), kplant(:, :), fmet_l(:), fmet_r(:)
      real(dp), allocatable :: fracclab(:), thetaliq(:), ft(:), fw(:), xklit(:), xksoil(:)
      real(dp), allocatable :: klitter(:, :), ksoil(:, :), xkn(:), nup(:), fracn(:, :)
      real(dp), allocatable :: dcplant(:, :), dclab(:), dnplant(:, :), fcl(:, :), fnl(:, :)
      real(dp), allocatable :: clit_met(:), clit_str(:), nlit_met(:), nlit_str(:)
      real(dp), allocatable :: dclit(:, :), dcsoil(:, :), dnlit(:, :), dnsoil(:, :), dnmin(:)
      real(dp), allocatable :: crsoil(:), cpass(:), cwd2str(:), nlitmin(:), nsmin(:), nsimm(:), nsnet(:)
      real(dp), allocatable :: nloss(:), nleach(:), nsrc_q9(:), csrc_p(:), nsrc_p(:), csrc_s(:), nsrc_s(:)
      real(dp), allocatable :: nneg_p(:), nneg_s(:)
      real(dp), allocatable :: dg(:, :), ncwd0(:)
      real(dp) :: nalloc_sum

      ierr = ERR_OK
      if (npar /= NCASAPARAM .or. nst /= NSTATE .or. ndg /= NDIAG .or. nfix /= NFIX) then
         ierr = ERR_BAD_LAYOUT
         return
      end if
      ierr = advance_argument_error(icycle, nday, doy0, store_daily, nstore)
      if (ierr /= ERR_OK) return
      if (ncell < 1) return

      fix_depth = fixes(FIX_CUMULATIVE_ROOT_DEPTH) /= 0
      fix_btran = fixes(FIX_CLAMP_BTRAN) /= 0
      fix_rmleaf = fixes(FIX_LEAF_MAINT_RESP) /= 0
      fix_ygrow = fixes(FIX_CONSTANT_GROWTH_YIELD) /= 0
      fix_exud = fixes(FIX_EXUDATE_FROM_NPP) /= 0
      fix_nmin = fixes(FIX_FLOOR_MINERAL_N) /= 0

      allocate (froot(ncell, NSOIL_LAYERS), ltos(ncell, 3, 3), stos(ncell, 3, 3), lco2(ncell, 3), sco2(ncell, 3))
      allocate (rnew(ncell, 3), tsl(ncell, NSOIL_LAYERS), msl(ncell, NSOIL_LAYERS))
      allocate (gppd(ncell), tairk(ncell), ndepd(ncell), tsoilavg(ncell), moistavg(ncell), btran(ncell))
      allocate (rm(ncell, 3), rg(ncell), npp(ncell), npp_raw(ncell), clabloss(ncell), fracc(ncell, 3))
      allocate (kcold(ncell), kdry(ncell), xkleaf(ncell), cexud(ncell), kplant(ncell, 3))
      allocate (fmet_l(ncell), fmet_r(ncell), fracclab(ncell), thetaliq(ncell), ft(ncell), fw(ncell))
      allocate (xklit(ncell), xksoil(ncell), klitter(ncell, 3), ksoil(ncell, 3), xkn(ncell), nup(ncell))
      allocate (fracn(ncell, 3), dcplant(ncell, 3), dclab(ncell), dnplant(ncell, 3), fcl(ncell, 3), fnl(ncell, 3))
      allocate (clit_met(ncell), clit_str(ncell), nlit_met(ncell), nlit_str(ncell))
      allocate (dclit(ncell, 3), dcsoil(ncell, 3), dnlit(ncell, 3), dnsoil(ncell, 3), dnmin(ncell))
      allocate (crsoil(ncell), cpass(ncell), cwd2str(ncell), nlitmin(ncell), nsmin(ncell), nsimm(ncell))
      allocate (nsnet(ncell), nloss(ncell), nleach(ncell), nsrc_q9(ncell), csrc_p(ncell), nsrc_p(ncell))
      allocate (csrc_s(ncell), nsrc_s(ncell), dg(ncell, NDIAG), ncwd0(ncell), nneg_p(ncell), nneg_s(ncell))

      ! time-invariant per-cell quantities
      call casa_root_fractions(ncell, params, fix_depth, froot)
      call casa_transfer_coeffs(ncell, params, ltos, stos, lco2, sco2)
      do i = 1, 3
         do n = 1, ncell
            rnew(n, i) = 1.0_dp/params(n, P_CNMIN_MIC + i - 1)   ! NCsoilmax; recomputed before use
         end do
      end do

      do d = 1, nday
         doy = doy0 + d - 1
         do n = 1, ncell
            if (cell_active(params(n, P_IVT2))) then
               gppd(n) = real(gpp(n, d), dp)
            else
               gppd(n) = 0.0_dp
            end if
            tairk(n) = real(tair(n, d), dp) + dtair
            ndepd(n) = real(ndep(n, d), dp)
         end do
         do l = 1, NSOIL_LAYERS
            do n = 1, ncell
               tsl(n, l) = real(tsoil(n, l, d), dp) + dtsoil
               msl(n, l) = real(moist(n, l, d), dp)
            end do
         end do

         ! 2-3
         call casa_phenology(ncell, doy, params, state(:, S_PHASE))
         call casa_avgsoil(ncell, params, fix_btran, froot, tsl, msl, tsoilavg, moistavg, btran)
         ! 4-5
         call casa_rplant(ncell, params, fix_rmleaf, fix_ygrow, tairk, tsoilavg, gppd, &
                          state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), &
                          state(:, S_PLEAF:S_PFROOT), state(:, S_CLABILE), rm, rg, npp, clabloss)
         do n = 1, ncell
            npp_raw(n) = npp(n)
            npp(n) = npp(n)*npp_scalar
         end do
         ! 6-7
         call casa_allocation(ncell, params, state(:, S_PHASE), state(:, S_LAI), npp, rm, fracc)
         call casa_xrateplant(ncell, params, state(:, S_PHASE), tairk, btran, kcold, kdry, xkleaf)
         ! 9-10
         call casa_exudation(ncell, params, gppd, cexud)
         if (fix_exud) then
            ! Q6 option: the exudate is taken from NPP instead of being created
            do n = 1, ncell
               npp(n) = npp(n) - cexud(n)
            end do
         end if
         call casa_coeffplant(ncell, params, state(:, S_LAI), state(:, S_CLEAF:S_CFROOT), &
                              state(:, S_NLEAF:S_NFROOT), kcold, kdry, xkleaf, kplant, fmet_l, fmet_r)
         ! 11
         if (icycle > 1) then
            call casa_xnp(ncell, params, state(:, S_NSOILMIN), fracc, kplant, state(:, S_CLEAF:S_CFROOT), &
                          state(:, S_NLEAF:S_NFROOT), gppd, npp, fracclab)
         else
            fracclab = 0.0_dp
         end if
         ! 12-13
         call casa_xratesoil(ncell, params, tsoilavg, moistavg, thetaliq, ft, fw, xklit, xksoil)
         call casa_coeffsoil(ncell, params, xklit, xksoil, klitter, ksoil)
         ! 14
         if (icycle > 1) then
            call casa_xkn2(ncell, params, .true., state(:, S_NSOILMIN), state(:, S_CMET:S_CCWD), xkn, rnew)
            do i = 1, 3
               do n = 1, ncell
                  klitter(n, i) = klitter(n, i)*xkn(n)
               end do
            end do
            call casa_nuptake(ncell, params, state(:, S_NSOILMIN), xkn, npp, fracc, kplant, &
                              state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), nup, fracn)
         else
            xkn = 1.0_dp
            nup = 0.0_dp
            fracn = 0.0_dp
         end if
         ! 15-16
         call casa_delplant(ncell, params, icycle, npp, gppd, fracclab, clabloss, cexud, fracc, kplant, &
                            state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT), fmet_l, fmet_r, nup, fracn, &
                            dcplant, dclab, dnplant, fcl, fnl, clit_met, clit_str, nlit_met, nlit_str)
         call casa_delsoil(ncell, params, icycle, klitter, ksoil, ltos, stos, lco2, sco2, rnew, &
                           state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), state(:, S_NMET:S_NCWD), &
                           state(:, S_NMIC:S_NPASS), state(:, S_NSOILMIN), tsoilavg, ndepd, nup, fcl, fnl, &
                           dclit, dcsoil, dnlit, dnsoil, dnmin, crsoil, cpass, cwd2str, nlitmin, nsmin, &
                           nsimm, nsnet, nloss, nleach, nsrc_q9)
         ! 17
         ncwd0 = state(:, S_NCWD)
         call casa_plant_update(ncell, params, icycle, dcplant, dclab, dnplant, state(:, S_CLEAF:S_CFROOT), &
                                state(:, S_CLABILE), state(:, S_NLEAF:S_NFROOT), state(:, S_LAI), csrc_p, nsrc_p, &
                                nneg_p)
         call casa_soil_update(ncell, params, icycle, dclit, dcsoil, dnlit, dnsoil, dnmin, &
                               state(:, S_CMET:S_CCWD), state(:, S_CMIC:S_CPASS), state(:, S_NMET:S_NCWD), &
                               state(:, S_NMIC:S_NPASS), state(:, S_NSOILMIN), csrc_s, nsrc_s, nneg_s)
         if (fix_nmin .and. icycle > 1) then
            ! Q10 option: mineral N is floored at 0; the N added is reported as a quirk source
            do n = 1, ncell
               if (cell_active(params(n, P_IVT2)) .and. state(n, S_NSOILMIN) < 0.0_dp) then
                  nsrc_s(n) = nsrc_s(n) - state(n, S_NSOILMIN)
                  state(n, S_NSOILMIN) = 0.0_dp
               end if
            end do
         end if
         ! 18
         call casa_end_of_day_np(ncell, params, icycle, state(:, S_CLEAF:S_CFROOT), &
                                 state(:, S_NLEAF:S_NFROOT), state(:, S_PLEAF:S_PFROOT))

         ! ---------------------------------------------------- diagnostics
         dg = 0.0_dp
         do i = 0, 2
            dg(:, D_CLEAF + i) = state(:, S_CLEAF + i)
            dg(:, D_NLEAF + i) = state(:, S_NLEAF + i)
            dg(:, D_CMET + i) = state(:, S_CMET + i)
            dg(:, D_NMET + i) = state(:, S_NMET + i)
            dg(:, D_CMIC + i) = state(:, S_CMIC + i)
            dg(:, D_NMIC + i) = state(:, S_NMIC + i)
            dg(:, D_RM_LEAF + i) = rm(:, 1 + i)
            dg(:, D_FA_LEAF + i) = fracc(:, 1 + i)
            dg(:, D_KP_LEAF + i) = kplant(:, 1 + i)
            dg(:, D_KL_MET + i) = klitter(:, 1 + i)
            dg(:, D_KS_MIC + i) = ksoil(:, 1 + i)
         end do
         dg(:, D_CLABILE) = state(:, S_CLABILE)
         dg(:, D_NSOILMIN) = state(:, S_NSOILMIN)
         dg(:, D_LAI) = state(:, S_LAI)
         dg(:, D_PHASE) = state(:, S_PHASE)
         dg(:, D_PLEAF) = state(:, S_PLEAF)
         dg(:, D_GPP) = gppd
         dg(:, D_NPP) = npp
         do n = 1, ncell
            dg(n, D_RA) = ((rm(n, 1) + rm(n, 2)) + rm(n, 3)) + rg(n)
            dg(n, D_NEP) = npp(n) - crsoil(n)
            dg(n, D_TAIRC) = tairk(n) - TKZERO
            dg(n, D_TSOILC) = tsoilavg(n) - TKZERO
         end do
         dg(:, D_RH) = crsoil
         dg(:, D_RG) = rg
         dg(:, D_CLABLOSS) = clabloss
         dg(:, D_CEXUDATE) = cexud
         dg(:, D_FRACCLABILE) = fracclab
         dg(:, D_CLITINPT_MET) = clit_met
         dg(:, D_CLITINPT_STR) = clit_str + cwd2str
         dg(:, D_CPASSINPT) = cpass
         dg(:, D_XKNLIMITING) = xkn
         dg(:, D_MOISTAVG) = moistavg
         dg(:, D_BTRAN) = btran
         dg(:, D_THETALIQ) = thetaliq
         dg(:, D_FT) = ft
         dg(:, D_FW) = fw
         dg(:, D_FMET_LEAF) = fmet_l
         dg(:, D_NEG_POOLS) = nneg_p + nneg_s
         ! deposition and fixation are reported for every cell, as the original does; on
         ! inactive (ice/water) cells they enter no pool, which the N budget books as a sink
         do n = 1, ncell
            dg(n, D_NDEP) = ndepd(n)
            dg(n, D_NFIX) = params(n, P_NFIXRATE)/365.0_dp
            if (.not. cell_active(params(n, P_IVT2))) then
               dg(n, D_N_QUIRK_SOURCE) = -(dg(n, D_NDEP) + dg(n, D_NFIX))
            end if
         end do
         ! C created outside the physical fluxes: exudate, NPP scalar, clamps
         do n = 1, ncell
            if (cell_active(params(n, P_IVT2))) then
               if (fix_exud) then
                  dg(n, D_C_QUIRK_SOURCE) = ((npp_scalar - 1.0_dp)*npp_raw(n) + csrc_p(n)) + csrc_s(n)
               else
                  dg(n, D_C_QUIRK_SOURCE) = ((cexud(n) + (npp_scalar - 1.0_dp)*npp_raw(n)) + csrc_p(n)) + csrc_s(n)
               end if
            end if
         end do
         if (icycle > 1) then
            dg(:, D_NLITINPT_MET) = nlit_met
            dg(:, D_NUPTAKE) = nup
            dg(:, D_NLEACH) = nleach
            dg(:, D_NLOSS) = nloss
            dg(:, D_NLITTERMIN) = nlitmin
            dg(:, D_NSOILMIN_GROSS) = nsmin
            dg(:, D_NSOILIMMOB) = nsimm
            dg(:, D_NNETMIN) = nsnet
            do n = 1, ncell
               if (.not. cell_active(params(n, P_IVT2))) cycle
               ! intended NlitInptStruc (Q20): + k_cwd * N_cwd (start-of-day N_cwd)
               dg(n, D_NLITINPT_STR) = nlit_str(n) + klitter(n, 3)*ncwd0(n)
               ! uptake handed to the plant is sum(nup*fracn) = nup - 1e-10 (+ rounding)
               nalloc_sum = (nup(n)*fracn(n, 1) + nup(n)*fracn(n, 2)) + nup(n)*fracn(n, 3)
               dg(n, D_N_QUIRK_SOURCE) = (((nalloc_sum - nup(n)) + nsrc_q9(n)) + nsrc_p(n)) + nsrc_s(n)
            end do
         end if

         if (store_daily /= 0) daily(:, :, d) = dg
         annual = annual + dg
      end do
   end subroutine advance_casa_impl

end module casa_step
