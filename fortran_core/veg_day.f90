!> The whole CASA-CNP vegetation day (casa.md 3.4 steps 2-11, 14-18 plant parts;
!> mimics.md 3.2 steps 1-4, 6, 7 plant part, 9, 11), shared by the CASA soil
!> driver (casa_step) and the MIMICS soil driver (mimics_step).
!>
!> The soil models read only start-of-day pools and the quantities returned in
!> veg_day_work, so the plant pool update can run before the soil step: the
!> start-of-day plant C and N are kept in w%cplant0 / w%nplant0 for the litter
!> partitioning of either soil model.
module casa_veg_day
   use tb_precision, only: dp, sp
   use tb_layout
   use casa_veg
   use tb_exudation, only: exudation_source, exudation_plant_n, exudation_q12
   use tb_moisture, only: vg_theta, vg_psi
   implicit none
   private
   public :: veg_options, veg_day_work, veg_work_allocate, widen_forcing_day, casa_vegetation_day, active_first, &
             gather_rows, scatter_rows


   !> cells per block of the step drivers (a block runs through all days of a call
   !> with its state and work arrays in cache; results do not depend on it)
   integer, parameter, public :: BLOCK_CELLS = 120

   !> model options of the vegetation day (fix flags, FIX_* in layout.f90)
   type :: veg_options
      logical :: clamp_btran = .false.       !< FIX_CLAMP_BTRAN (Q2)
      logical :: leaf_maint_resp = .false.   !< FIX_LEAF_MAINT_RESP (Q3)
      logical :: constant_yield = .false.    !< FIX_CONSTANT_GROWTH_YIELD (Q4)
      logical :: exudate_from_npp = .false.  !< FIX_EXUDATE_FROM_NPP (Q6), CASA soil only
      logical :: casa_soil_mode = .true.     !< xkNlimiting with the CASA-soil litter override and rnew
      logical :: exud_on = .false.           !< some cell uses an exudation option (tb_exudation)
   end type veg_options

   !> The day's vegetation quantities of nb cells (g m-2 d-1 unless stated; organ index
   !> 1..3 = leaf, wood, froot). Allocated once per block of cells by veg_work_allocate.
   type :: veg_day_work
      real(dp), allocatable :: tsoilavg(:), moistavg(:), btran(:)   !< K, m3 m-3, -
      real(dp), allocatable :: rm(:, :), rg(:), clabloss(:)
      real(dp), allocatable :: npp_raw(:)     !< NPP before the NPP scalar
      real(dp), allocatable :: npp(:)         !< NPP after scalar, (Q6 option) exudate and N limitation
      real(dp), allocatable :: fracc(:, :), kcold(:), kdry(:), xkleaf(:), cexud(:)
      real(dp), allocatable :: kplant(:, :)   !< d-1
      real(dp), allocatable :: fracclab(:), xkn(:)
      real(dp), allocatable :: rnew(:, :)     !< CASA soil: N:C of new soil organic matter (set in casa_soil_mode)
      real(dp), allocatable :: nup(:), fracn(:, :)
      real(dp), allocatable :: cplant0(:, :), nplant0(:, :)  !< start-of-day plant C, N
      real(dp), allocatable :: dcplant(:, :), dclab(:), dnturn(:, :), dnplant(:, :)
      real(dp), allocatable :: csrc(:), nsrc(:), nneg(:)     !< plant clamps (casa_plant_update)
      !> root exudation (tb_exudation): N flux, C created (legacy), N from outside, C capped by NPP
      real(dp), allocatable :: nexud(:), cexq(:), nexext(:), ccap(:)
      !> the cells' phenology calendar (casa_phenology_calendar; time-invariant)
      integer, allocatable :: pstart(:, :), plen(:, :)
      logical, allocatable :: evergreen(:)
   end type veg_day_work

contains

   !> Allocate the work arrays for nb cells; rnew starts at NCsoilmax = 1/CNmin_mic
   !> (casa_xkn2 recomputes it before any use).
   subroutine veg_work_allocate(nb, params, w)
      integer, intent(in) :: nb
      real(dp), intent(in) :: params(nb, NCASAPARAM)
      type(veg_day_work), intent(inout) :: w
      integer :: i, n
      allocate (w%tsoilavg(nb), w%moistavg(nb), w%btran(nb), w%rm(nb, 3), w%rg(nb), w%clabloss(nb))
      allocate (w%npp_raw(nb), w%npp(nb), w%fracc(nb, 3), w%kcold(nb), w%kdry(nb), w%xkleaf(nb), w%cexud(nb))
      allocate (w%kplant(nb, 3), w%fracclab(nb), w%xkn(nb), w%rnew(nb, 3), w%nup(nb), w%fracn(nb, 3))
      allocate (w%cplant0(nb, 3), w%nplant0(nb, 3), w%dcplant(nb, 3), w%dclab(nb), w%dnturn(nb, 3))
      allocate (w%dnplant(nb, 3), w%csrc(nb), w%nsrc(nb), w%nneg(nb))
      allocate (w%nexud(nb), w%cexq(nb), w%nexext(nb), w%ccap(nb))
      allocate (w%pstart(nb, 0:3), w%plen(nb, 0:3), w%evergreen(nb))
      call casa_phenology_calendar(nb, params, w%pstart, w%plen, w%evergreen)
      w%nexud = 0.0_dp
      w%nexext = 0.0_dp
      w%ccap = 0.0_dp
      do i = 1, 3
         do n = 1, nb
            w%rnew(n, i) = 1.0_dp/params(n, P_CNMIN_MIC + i - 1)
         end do
      end do
   end subroutine veg_work_allocate

   !> The cell numbers 1..ncell with the vegetated cells first and the icewater cells after them, each group in
   !> its original order (ivt2: the cells' P_IVT2 column). Drivers cut their blocks from this order.
   pure subroutine active_first(ncell, ivt2, order)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: ivt2(ncell)
      integer, intent(out) :: order(ncell)
      integer :: i, k
      k = 0
      do i = 1, ncell
         if (cell_active(ivt2(i))) then
            k = k + 1
            order(k) = i
         end if
      end do
      do i = 1, ncell
         if (.not. cell_active(ivt2(i))) then
            k = k + 1
            order(k) = i
         end if
      end do
   end subroutine active_first

   !> Rows cells(1:nb) of an (ncell, ncol) array as an (nb, ncol) block (the drivers' blocks of cells).
   pure subroutine gather_rows(ncell, ncol, a, nb, cells, b)
      integer, intent(in) :: ncell, ncol, nb, cells(nb)
      real(dp), intent(in) :: a(ncell, ncol)
      real(dp), intent(out) :: b(nb, ncol)
      integer :: j, k
      do j = 1, ncol
         do k = 1, nb
            b(k, j) = a(cells(k), j)
         end do
      end do
   end subroutine gather_rows

   !> An (nb, ncol) block back into rows cells(1:nb) of a (ncell, ncol) array (gather_rows' inverse).
   pure subroutine scatter_rows(nb, ncol, b, cells, ncell, a)
      integer, intent(in) :: nb, ncol, cells(nb), ncell
      real(dp), intent(in) :: b(nb, ncol)
      real(dp), intent(inout) :: a(ncell, ncol)
      integer :: j, k
      do j = 1, ncol
         do k = 1, nb
            a(cells(k), j) = b(k, j)
         end do
      end do
   end subroutine scatter_rows

   !> Day d of the float32 forcing of cells cells(1:nb) of the call's ncell cells, widened exactly to real64;
   !> the air and soil temperature perturbations are added in double after widening (docs/kernel.md).
   !> gppd is 0 on icewater cells.
   !> A dry spell (seed_processes.md 2.1: P_DRY_DAYS > 0 and doy in [P_DRY_START, P_DRY_START + P_DRY_DAYS))
   !> sets every layer's liquid water to theta(P_DRY_PSI) of the cell's van Genuchten parameters (theta_s =
   !> ssat) and adds P_DRY_DTSOIL to its temperature; dry_spell is then 1, dry_wetter 1 if that water content
   !> exceeds the met value of a layer, and dry_psi_eff the potential (hPa) of min(theta, sfc), the water
   !> content left by the host's field-capacity cap (else all three 0).
   subroutine widen_forcing_day(nb, ncell, cells, nday, d, doy, params, gpp, tair, ndep, tsoil, moist, dtair, &
                                dtsoil, gppd, tairk, ndepd, tsl, msl, dry_spell, dry_wetter, dry_psi_eff)
      integer, intent(in) :: nb, ncell, cells(nb), nday, d, doy
      real(dp), intent(in) :: params(nb, NCASAPARAM)
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, NSOIL_LAYERS, nday), moist(ncell, NSOIL_LAYERS, nday)
      real(dp), intent(in) :: dtair, dtsoil
      real(dp), intent(out) :: gppd(nb), tairk(nb), ndepd(nb), tsl(nb, NSOIL_LAYERS), msl(nb, NSOIL_LAYERS)
      real(dp), intent(inout) :: dry_spell(nb), dry_wetter(nb), dry_psi_eff(nb)
      integer :: n, l, d0, o
      real(dp) :: theta
      logical :: consecutive
      consecutive = .true.
      do n = 2, nb
         if (cells(n) /= cells(n - 1) + 1) consecutive = .false.
      end do
      if (consecutive) then
         ! unit-stride loops
         o = cells(1) - 1
         do n = 1, nb
            if (cell_active(params(n, P_IVT2))) then
               gppd(n) = real(gpp(o + n, d), dp)
            else
               gppd(n) = 0.0_dp
            end if
            tairk(n) = real(tair(o + n, d), dp) + dtair
            ndepd(n) = real(ndep(o + n, d), dp)
         end do
         do l = 1, NSOIL_LAYERS
            do n = 1, nb
               tsl(n, l) = real(tsoil(o + n, l, d), dp) + dtsoil
               msl(n, l) = real(moist(o + n, l, d), dp)
            end do
         end do
      else
         do n = 1, nb
            if (cell_active(params(n, P_IVT2))) then
               gppd(n) = real(gpp(cells(n), d), dp)
            else
               gppd(n) = 0.0_dp
            end if
            tairk(n) = real(tair(cells(n), d), dp) + dtair
            ndepd(n) = real(ndep(cells(n), d), dp)
         end do
         do l = 1, NSOIL_LAYERS
            do n = 1, nb
               tsl(n, l) = real(tsoil(cells(n), l, d), dp) + dtsoil
               msl(n, l) = real(moist(cells(n), l, d), dp)
            end do
         end do
      end if
      if (d < nday) call touch_forcing_day(nb, ncell, cells, consecutive, nday, d + 1, gpp, tair, ndep, tsoil, moist)
      do n = 1, nb
         if (params(n, P_DRY_DAYS) <= 0.0_dp) cycle
         d0 = inint(params(n, P_DRY_START))
         dry_spell(n) = 0.0_dp
         dry_wetter(n) = 0.0_dp
         dry_psi_eff(n) = 0.0_dp
         if (doy < d0 .or. doy >= d0 + inint(params(n, P_DRY_DAYS))) cycle
         dry_spell(n) = 1.0_dp
         theta = vg_theta(params(n, P_DRY_PSI), params(n, P_VG_THETA_R), params(n, P_SSAT), params(n, P_VG_ALPHA), &
                          params(n, P_VG_N))
         dry_psi_eff(n) = vg_psi(min(theta, params(n, P_SFC)), params(n, P_VG_THETA_R), params(n, P_SSAT), &
                                 params(n, P_VG_ALPHA), params(n, P_VG_N))
         do l = 1, NSOIL_LAYERS
            if (theta > msl(n, l)) dry_wetter(n) = 1.0_dp
            msl(n, l) = theta
            tsl(n, l) = tsl(n, l) + params(n, P_DRY_DTSOIL)
         end do
      end do
   end subroutine widen_forcing_day

   !> Loads one value per cache line of the block's forcing of day d, so that tomorrow's values are in cache when
   !> widen_forcing_day needs them: these loads miss together, here, instead of one after the other inside the
   !> day's arithmetic (the met arrays hold all the call's cells, so a block's day is 15 short runs ncell apart).
   !> No value changes; the volatile sum only keeps the compiler from dropping the loads.
   subroutine touch_forcing_day(nb, ncell, cells, consecutive, nday, d, gpp, tair, ndep, tsoil, moist)
      integer, intent(in) :: nb, ncell, cells(nb), nday, d
      logical, intent(in) :: consecutive
      real(sp), intent(in) :: gpp(ncell, nday), tair(ncell, nday), ndep(ncell, nday)
      real(sp), intent(in) :: tsoil(ncell, NSOIL_LAYERS, nday), moist(ncell, NSOIL_LAYERS, nday)
      integer, parameter :: LINE = 16   ! float32 values per 64-byte cache line
      real(sp), volatile :: sink
      real(sp) :: s
      integer :: n, l, o
      s = 0.0_sp
      if (consecutive) then
         ! one value per line of each run, and the run's last value (a run need not start on a line boundary)
         o = cells(1) - 1
         do n = 1, nb - 1, LINE
            s = s + ((gpp(o + n, d) + tair(o + n, d)) + ndep(o + n, d))
         end do
         s = s + ((gpp(o + nb, d) + tair(o + nb, d)) + ndep(o + nb, d))
         do l = 1, NSOIL_LAYERS
            do n = 1, nb - 1, LINE
               s = s + (tsoil(o + n, l, d) + moist(o + n, l, d))
            end do
            s = s + (tsoil(o + nb, l, d) + moist(o + nb, l, d))
         end do
      else
         do n = 1, nb
            s = s + ((gpp(cells(n), d) + tair(cells(n), d)) + ndep(cells(n), d))
         end do
         do l = 1, NSOIL_LAYERS
            do n = 1, nb
               s = s + (tsoil(cells(n), l, d) + moist(cells(n), l, d))
            end do
         end do
      end if
      sink = s
   end subroutine touch_forcing_day

   !> One vegetation day of nb cells: phenology, root-zone soil averages, plant
   !> respiration and NPP (times npp_scalar), allocation, leaf-shedding rates,
   !> exudation (gppd is reduced by the exudate), turnover rates, N-limited NPP,
   !> xkNlimiting, plant N uptake, plant tendencies, the plant pool update (with
   !> clamps) and pdummy / ndummy. st(nb, NSTATE) is updated in place (plant pools,
   !> labile C, LAI, phase); soil and litter pools are only read.
   subroutine casa_vegetation_day(nb, doy, icycle, opt, params, froot, tairk, tsl, msl, npp_scalar, &
                                  gppd, st, w)
      integer, intent(in) :: nb, doy, icycle
      type(veg_options), intent(in) :: opt
      real(dp), intent(in) :: params(nb, NCASAPARAM), froot(nb, NSOIL_LAYERS)
      real(dp), intent(in) :: tairk(nb), tsl(nb, NSOIL_LAYERS), msl(nb, NSOIL_LAYERS), npp_scalar
      real(dp), intent(inout) :: gppd(nb), st(nb, NSTATE)
      type(veg_day_work), intent(inout) :: w
      integer :: n, i

      call casa_phenology(nb, doy, w%pstart, w%plen, w%evergreen, st(:, S_PHASE))
      call casa_avgsoil(nb, params, opt%clamp_btran, froot, tsl, msl, w%tsoilavg, w%moistavg, w%btran)
      call casa_rplant(nb, params, opt%leaf_maint_resp, opt%constant_yield, tairk, w%tsoilavg, gppd, &
                       st(:, S_CLEAF:S_CFROOT), st(:, S_NLEAF:S_NFROOT), st(:, S_PLEAF:S_PFROOT), &
                       st(:, S_CLABILE), w%rm, w%rg, w%npp, w%clabloss)
      do n = 1, nb
         w%npp_raw(n) = w%npp(n)
         w%npp(n) = w%npp(n)*npp_scalar
      end do
      call casa_allocation(nb, params, st(:, S_PHASE), st(:, S_LAI), w%npp, w%rm, w%fracc)
      call casa_xrateplant(nb, params, st(:, S_PHASE), tairk, w%btran, w%kcold, w%kdry, w%xkleaf)
      if (opt%exud_on) then
         call exudation_source(nb, doy, icycle, params, st(:, S_NFROOT), gppd, w%npp, w%cexud, w%nexud, &
                               w%cexq, w%nexext, w%ccap)
      else
         call casa_exudation(nb, params, gppd, w%cexud)
         w%cexq = w%cexud
      end if
      if (opt%exudate_from_npp) then
         ! Q6 option: the exudate is taken from NPP instead of being created (only the legacy
         ! mode's exudate, cexq; the other modes book their own)
         do n = 1, nb
            w%npp(n) = w%npp(n) - w%cexq(n)
         end do
      end if
      call casa_kplant(nb, params, st(:, S_LAI), w%kcold, w%kdry, w%xkleaf, w%kplant)
      if (icycle > 1) then
         call casa_xnp(nb, params, st(:, S_NSOILMIN), w%fracc, w%kplant, st(:, S_CLEAF:S_CFROOT), &
                       st(:, S_NLEAF:S_NFROOT), gppd, w%npp, w%fracclab)
         call casa_xkn2(nb, params, opt%casa_soil_mode, st(:, S_NSOILMIN), st(:, S_CMET:S_CCWD), w%xkn, w%rnew)
         call casa_nuptake(nb, params, st(:, S_NSOILMIN), w%xkn, w%npp, w%fracc, w%kplant, &
                           st(:, S_CLEAF:S_CFROOT), st(:, S_NLEAF:S_NFROOT), w%nup, w%fracn)
      else
         w%fracclab = 0.0_dp
         w%xkn = 1.0_dp
         w%nup = 0.0_dp
         w%fracn = 0.0_dp
      end if
      do i = 0, 2
         do n = 1, nb
            w%cplant0(n, i + 1) = st(n, S_CLEAF + i)
            w%nplant0(n, i + 1) = st(n, S_NLEAF + i)
         end do
      end do
      call casa_plant_tendencies(nb, params, icycle, w%npp, gppd, w%fracclab, w%clabloss, w%fracc, w%kplant, &
                                 w%cplant0, w%nplant0, w%nup, w%fracn, w%dcplant, w%dclab, w%dnturn, w%dnplant)
      if (opt%exud_on .and. icycle > 1) call exudation_plant_n(nb, params, w%nexud, w%dnplant)
      call casa_plant_update(nb, params, icycle, w%dcplant, w%dclab, w%dnplant, st(:, S_CLEAF:S_CFROOT), &
                             st(:, S_CLABILE), st(:, S_NLEAF:S_NFROOT), st(:, S_LAI), w%csrc, w%nsrc, w%nneg)
      if (opt%exud_on .and. icycle > 1) call exudation_q12(nb, params, st(:, S_CLEAF), w%nexud, w%nsrc)
      call casa_end_of_day_np(nb, params, icycle, st(:, S_CLEAF:S_CFROOT), st(:, S_NLEAF:S_NFROOT), &
                              st(:, S_PLEAF:S_PFROOT))
   end subroutine casa_vegetation_day

end module casa_veg_day
