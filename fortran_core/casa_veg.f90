!> CASA-CNP vegetation processes (spec casa.md section 4), shared by the CASA
!> soil model (casa_step) and the MIMICS soil model (mimics_step).
!>
!> Conventions (all routines)
!> * One call processes a chunk of `ncell` cells; arrays are (ncell) or
!>   (ncell, 3) with cells fastest. Organ index 1..3 = leaf, wood, froot;
!>   these (ncell,3) arrays may be passed directly as contiguous state sections,
!>   e.g. state(:, S_CLEAF:S_CFROOT), state(:, S_NLEAF:S_NFROOT).
!> * `params(ncell, NCASAPARAM)` holds the raw P_* columns (layout.f90); per-day
!>   values (casa.md 5.2) are derived inline, with the spec's expressions.
!> * A cell is "active" when nint(params(:,P_IVT2)) /= 0; icewater cells get the
!>   values stated in casa.md for inactive points (mostly 0).
!> * Every expression keeps the spec's evaluation order (no re-association).
!>
!> Public routines (in the order they are called in a day, casa.md 3.4)
!>  casa_root_fractions(ncell, params, cumulative_depth, froot)
!>      froot(ncell,6) out: root fraction per soil layer (2.7; Q1 fix if cumulative_depth)
!>  casa_phenology(ncell, doy, params, phase)
!>      phase(ncell) inout (real 0..3): one phase transition for day of year doy (4.1)
!>  casa_avgsoil(ncell, params, clamp_btran, froot, tsoil, moist, tsoilavg, moistavg, btran)
!>      tsoil, moist (ncell,6) in (tsoil already perturbed); outputs (ncell) (2.7; Q2 fix)
!>  casa_avg_layers(ncell, froot, x, xavg)
!>      plain root-weighted layer average sum_l froot_l*x_l (e.g. frozen water for MIMICS)
!>  casa_rplant(ncell, params, leaf_maint_resp, constant_yield, tair, tsoilavg, gpp,
!>              cplant, nplant, pplant, clabile, rm, rg, npp, clabloss)
!>      gpp = met GPP before exudation (0 for icewater); rm(ncell,3) out; npp before
!>      the NPP scalar (4.3; Q3/Q4 fixes). Caller then does npp = npp*npp_scalar (4.4).
!>  casa_allocation(ncell, params, phase, lai, npp, rm, fracc)
!>      fracc(ncell,3) out: C allocation fractions (4.5); lai = start-of-day LAI
!>  casa_xrateplant(ncell, params, phase, tair, btran, kcold, kdry, xkleaf)      (4.6)
!>  casa_exudation(ncell, params, gpp, cexud)
!>      gpp inout (reduced by the exudate), cexud out (4.7)
!>  casa_kplant(ncell, params, lai, kcold, kdry, xkleaf, kplant)
!>      plant turnover rates kplant(ncell,3) (4.8); lai = start-of-day LAI
!>  casa_litter_fmet(ncell, params, cplant, nplant, fmet_leaf, fmet_froot)
!>      CASA-soil metabolic fractions of leaf / fine-root litter (4.8), start-of-day pools
!>  casa_nrequire(ncell, params, xnpp, nsoilmin, fracc, kplant, cplant, nplant, rmin, rmax)
!>      N requirement NREQ(xnpp) (4.9); rmin, rmax (ncell,3) out; all cells
!>  casa_xnp(ncell, params, nsoilmin, fracc, kplant, cplant, nplant, gpp, npp, fracclabile)
!>      npp inout (N-limited), fracclabile out (4.9); gpp after exudation
!>  casa_xkn2(ncell, params, casa_soil_mode, nsoilmin, clitter, xkn, rnew)
!>      xkn out (4.12). With casa_soil_mode = .false. (MIMICS) the Q16 litter override
!>      is skipped and rnew(ncell,3) is left untouched (clitter is then not used).
!>  casa_nuptake(ncell, params, nsoilmin, xkn, npp, fracc, kplant, cplant, nplant,
!>               nuptake, fracnalloc)                                            (4.13)
!>  casa_plant_tendencies(ncell, params, icycle, npp, gpp, fracclabile, clabloss, fracc,
!>                        kplant, cplant, nplant, nuptake, fracnalloc,
!>                        dcplant, dclabile, dnturn, dnplant)
!>      plant C, labile C and N tendencies (4.14); dnturn = N tendency of turnover alone
!>  casa_litterfall(ncell, params, icycle, cexud, kplant, cplant, fmet_leaf, fmet_froot,
!>                  dnturn, fluxc_lit, fluxn_lit, clitinpt_met, clitinpt_str,
!>                  nlitinpt_met, nlitinpt_str)
!>      CASA-soil litterfall (4.14) from the start-of-day plant pools; fluxc_lit/fluxn_lit
!>      (ncell,3) into met/str/cwd litter; clitinpt_str and nlitinpt_str WITHOUT the cwd
!>      parts (casa_soil adds cwd2str and k_cwd*N_cwd).
!>  casa_plant_update(ncell, params, icycle, dcplant, dclabile, dnplant,
!>                    cplant, clabile, nplant, lai, csrc, nsrc, nneg)
!>      plant part of the pool update (4.16 steps 1-3 and the plant clamps of step 6);
!>      csrc/nsrc out: C/N created by the clamps (+ discarded plant N tendency, Q12);
!>      nneg out: number of plant pools reset from negative to 0.
!>  casa_end_of_day_np(ncell, params, icycle, cplant, nplant, pplant)
!>      pdummy then ndummy (4.17), all cells.
!> The whole vegetation day that calls them is casa_veg_day.casa_vegetation_day.
module casa_veg
   use tb_precision, only: dp, TKZERO, DELTCASA, DZSOIL
   use tb_layout
   implicit none
   private

   public :: casa_root_fractions, casa_phenology_calendar, casa_phenology, casa_avgsoil, casa_avg_layers
   public :: casa_rplant, casa_allocation, casa_xrateplant, casa_exudation
   public :: casa_kplant, casa_litter_fmet, casa_nrequire, casa_xnp, casa_xkn2, casa_nuptake
   public :: casa_plant_tendencies, casa_litterfall, casa_plant_update, casa_end_of_day_np, cell_active, inint

   !> fixed C:N of structural litter N input (ratioNCstrfix)
   real(dp), parameter, public :: RATIO_NC_STR_FIX = 1.0_dp/150.0_dp

contains

   !> true for cells that are not icewater (nint(ivt2) /= 0), without a libm lround call
   elemental logical function cell_active(ivt2)
      real(dp), intent(in) :: ivt2
      cell_active = .not. (abs(ivt2) < 0.5_dp)
   end function cell_active

   !> nint(x) (round half away from zero) for |x| < 2**31, inline instead of libm's lround:
   !> x - int(x) is exact, so the rounding decision is the same as nint's.
   elemental integer function inint(x)
      real(dp), intent(in) :: x
      real(dp) :: f
      inint = int(x)
      f = x - real(inint, dp)
      if (f >= 0.5_dp) then
         inint = inint + 1
      else if (f <= -0.5_dp) then
         inint = inint - 1
      end if
   end function inint

   !> Lloyd-Taylor type temperature function g(T), 1 at 10 degC (casa.md 4.3)
   elemental real(dp) function resp_tfunc(tk)
      real(dp), intent(in) :: tk
      resp_tfunc = exp(308.56_dp*(1.0_dp/56.02_dp - 1.0_dp/((tk + 46.02_dp) - TKZERO)))
   end function resp_tfunc

   ! ------------------------------------------------------------------ 2.7
   subroutine casa_root_fractions(ncell, params, cumulative_depth, froot)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      logical, intent(in) :: cumulative_depth   ! FIX_CUMULATIVE_ROOT_DEPTH (Q1)
      real(dp), intent(out) :: froot(ncell, NSOIL_LAYERS)
      real(dp) :: ztop(NSOIL_LAYERS), zbot(NSOIL_LAYERS), kr, rd, tot
      integer :: n, l
      if (cumulative_depth) then
         ztop(1) = 0.0_dp
         zbot(1) = DZSOIL(1)
         do l = 2, NSOIL_LAYERS
            ztop(l) = zbot(l-1)
            zbot(l) = zbot(l-1) + DZSOIL(l)
         end do
      else
         ztop(1) = 0.0_dp
         ztop(2:NSOIL_LAYERS) = DZSOIL(1:NSOIL_LAYERS-1)
         zbot = DZSOIL
      end if
      do l = 1, NSOIL_LAYERS
         do n = 1, ncell
            kr = params(n, P_KROOT)
            rd = params(n, P_ROOTDEPTH)
            tot = 1.0_dp - exp((-kr)*rd)
            froot(n, l) = (exp((-kr)*min(rd, ztop(l))) - exp((-kr)*min(rd, zbot(l))))/tot
         end do
      end do
   end subroutine casa_root_fractions

   ! ------------------------------------------------------------------ 4.1
   !> The per-cell phenology calendar (time-invariant): for phase p = 0..3 (dormant, green-up, steady,
   !> senescence) the day of year pstart(:, p) it began and its length plen(:, p) in days (green-up and
   !> senescence last 14 days from the greenup and fall days); evergreen cells (IGBP 1, 2) stay in phase 2.
   subroutine casa_phenology_calendar(ncell, params, pstart, plen, evergreen)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      integer, intent(out) :: pstart(ncell, 0:3), plen(ncell, 0:3)
      logical, intent(out) :: evergreen(ncell)
      integer :: n, d1, d2, d3, d4, iveg
      do n = 1, ncell
         d1 = inint(params(n, P_GREENUP))
         d3 = inint(params(n, P_FALL))
         d2 = d1 + 14
         d4 = d3 + 14
         if (d2 > 365) d2 = d2 - 365
         if (d4 > 365) d4 = d4 - 365
         pstart(n, 0) = d4
         pstart(n, 1) = d1
         pstart(n, 2) = d2
         pstart(n, 3) = d3
         plen(n, 0) = wrap(d1 - d4)
         plen(n, 1) = wrap(d2 - d1)
         plen(n, 2) = wrap(d3 - d2)
         plen(n, 3) = wrap(d4 - d3)
         iveg = inint(params(n, P_IVEG))
         evergreen(n) = iveg == 1 .or. iveg == 2
      end do
   contains
      !> one year added to a negative length, once (a table's day outside 1..365 keeps its original meaning)
      elemental integer function wrap(days)
         integer, intent(in) :: days
         wrap = days
         if (wrap < 0) wrap = wrap + 365
      end function wrap
   end subroutine casa_phenology_calendar

   !> The day's phase: a cell moves on to the next phase once more than the current phase's length has passed
   !> since its start day (casa_phenology_calendar).
   subroutine casa_phenology(ncell, doy, pstart, plen, evergreen, phase)
      integer, intent(in) :: ncell, doy
      integer, intent(in) :: pstart(ncell, 0:3), plen(ncell, 0:3)
      logical, intent(in) :: evergreen(ncell)
      real(dp), intent(inout) :: phase(ncell)
      integer :: n, ph, dd
      do n = 1, ncell
         ph = inint(phase(n))
         if (ph >= 0 .and. ph <= 3) then
            dd = doy - pstart(n, ph)
            if (dd < 0) dd = dd + 365
            if (dd > plen(n, ph)) ph = modulo(ph + 1, 4)
         end if
         if (evergreen(n)) ph = 2
         phase(n) = real(ph, dp)
      end do
   end subroutine casa_phenology

   ! ------------------------------------------------------------------ 2.7
   subroutine casa_avgsoil(ncell, params, clamp_btran, froot, tsoil, moist, tsoilavg, moistavg, btran)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      logical, intent(in) :: clamp_btran      ! FIX_CLAMP_BTRAN (Q2)
      real(dp), intent(in) :: froot(ncell, NSOIL_LAYERS)
      real(dp), intent(in) :: tsoil(ncell, NSOIL_LAYERS), moist(ncell, NSOIL_LAYERS)
      real(dp), intent(out) :: tsoilavg(ncell), moistavg(ncell), btran(ncell)
      real(dp) :: sfc, swilt, th
      integer :: n, l
      tsoilavg = 0.0_dp
      moistavg = 0.0_dp
      btran = 0.0_dp
      do l = 1, NSOIL_LAYERS
         do n = 1, ncell
            sfc = params(n, P_SFC)
            swilt = params(n, P_SWILT)
            th = min(sfc, moist(n, l))
            tsoilavg(n) = tsoilavg(n) + froot(n, l)*tsoil(n, l)
            if (clamp_btran) then
               moistavg(n) = moistavg(n) + froot(n, l)*moist(n, l)
            else
               moistavg(n) = moistavg(n) + froot(n, l)*th
            end if
            btran(n) = btran(n) + froot(n, l)*(th - swilt)/(sfc - swilt)
         end do
      end do
      if (clamp_btran) then
         do n = 1, ncell
            btran(n) = min(1.0_dp, max(0.0_dp, btran(n)))
         end do
      end if
   end subroutine casa_avgsoil

   !> root-weighted layer sum, accumulated from 0 in layer order
   subroutine casa_avg_layers(ncell, froot, x, xavg)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: froot(ncell, NSOIL_LAYERS), x(ncell, NSOIL_LAYERS)
      real(dp), intent(out) :: xavg(ncell)
      integer :: n, l
      xavg = 0.0_dp
      do l = 1, NSOIL_LAYERS
         do n = 1, ncell
            xavg(n) = xavg(n) + froot(n, l)*x(n, l)
         end do
      end do
   end subroutine casa_avg_layers

   ! ------------------------------------------------------------------ 4.3
   subroutine casa_rplant(ncell, params, leaf_maint_resp, constant_yield, tair, tsoilavg, gpp, &
                          cplant, nplant, pplant, clabile, rm, rg, npp, clabloss)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      logical, intent(in) :: leaf_maint_resp   ! FIX_LEAF_MAINT_RESP (Q3)
      logical, intent(in) :: constant_yield    ! FIX_CONSTANT_GROWTH_YIELD (Q4)
      real(dp), intent(in) :: tair(ncell), tsoilavg(ncell), gpp(ncell)
      real(dp), intent(in) :: cplant(ncell, 3), nplant(ncell, 3), pplant(ncell, 3), clabile(ncell)
      real(dp), intent(out) :: rm(ncell, 3), rg(ncell), npp(ncell), clabloss(ncell)
      real(dp) :: rho, ygrow, ft, sumrm
      integer :: n
      do n = 1, ncell
         rm(n, :) = 0.0_dp
         rg(n) = 0.0_dp
         clabloss(n) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) then
            npp(n) = gpp(n)/2.0_dp
            cycle
         end if
         if (constant_yield) then
            rho = 1.0_dp/params(n, P_NP_LEAF_MIN)
         else if (nplant(n, 1) > 0.0_dp) then
            rho = pplant(n, 1)/(nplant(n, 1) + 1.0e-10_dp)
         else
            rho = 0.0_dp
         end if
         ygrow = 0.65_dp + 0.2_dp*rho/(rho + 1.0_dp/15.0_dp)
         if (tair(n) > 250.0_dp) then
            ft = resp_tfunc(tair(n))
            if (cplant(n, 2) > 1.0e-6_dp) then
               rm(n, 2) = ((params(n, P_RM_WOOD)*DELTCASA)*nplant(n, 2))*ft
            end if
            if (leaf_maint_resp .and. cplant(n, 1) > 1.0e-6_dp) then
               rm(n, 1) = ((params(n, P_RM_LEAF)*DELTCASA)*nplant(n, 1))*ft
            end if
            clabloss(n) = ((DELTCASA/params(n, P_AGE_CLABILE))*max(0.0_dp, clabile(n)))*ft
         end if
         if (tsoilavg(n) > 250.0_dp .and. cplant(n, 3) > 1.0e-6_dp) then
            rm(n, 3) = ((params(n, P_RM_FROOT)*DELTCASA)*nplant(n, 3))*resp_tfunc(tsoilavg(n))
         end if
         sumrm = (rm(n, 1) + rm(n, 2)) + rm(n, 3)
         if (gpp(n) - sumrm > 0.0_dp) then
            rg(n) = (1.0_dp - ygrow)*max(0.0_dp, gpp(n) - sumrm)
         else
            rg(n) = 0.0_dp
         end if
         npp(n) = (gpp(n) - sumrm) - rg(n)
      end do
   end subroutine casa_rplant

   ! ------------------------------------------------------------------ 4.5
   subroutine casa_allocation(ncell, params, phase, lai, npp, rm, fracc)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: phase(ncell), lai(ncell), npp(ncell), rm(ncell, 3)
      real(dp), intent(out) :: fracc(ncell, 3)
      real(dp) :: al, aw, ar, s, tot
      integer :: n, ph, ivt2
      logical :: woody
      do n = 1, ncell
         al = params(n, P_CALLOC_LEAF)
         aw = params(n, P_CALLOC_WOOD)
         ar = params(n, P_CALLOC_FROOT)
         ivt2 = inint(params(n, P_IVT2))
         if (ivt2 /= 0) then
            woody = (ivt2 == 2 .or. ivt2 == 3)
            ph = inint(phase(n))
            if (ph == 0) then
               al = 0.0_dp
               ar = ar/(ar + aw)
               aw = 1.0_dp - ar
            end if
            if (ph == 1) then
               al = 0.8_dp
               if (woody) then
                  ar = 0.5_dp*(1.0_dp - al)
                  aw = 0.5_dp*(1.0_dp - al)
               else
                  ar = 1.0_dp - al
               end if
            end if
            if (ph == 3) then
               ar = 1.0_dp - aw
               al = 0.0_dp
            end if
            if (lai(n) >= params(n, P_LAIMAX)) then
               al = 0.0_dp
               ar = ar/(ar + aw)
               aw = 1.0_dp - ar
            end if
            if (lai(n) < params(n, P_LAIMIN)) then
               al = 0.8_dp
               if (woody) then
                  ar = 0.5_dp*(1.0_dp - al)
                  aw = 0.5_dp*(1.0_dp - al)
               else
                  ar = 1.0_dp - al
               end if
            end if
            if (npp(n) < 0.0_dp) then
               s = (rm(n, 1) + rm(n, 2)) + rm(n, 3)
               al = rm(n, 1)/s
               aw = rm(n, 2)/s
               ar = rm(n, 3)/s
            end if
         end if
         tot = (al + aw) + ar
         fracc(n, 1) = al/tot
         fracc(n, 2) = aw/tot
         fracc(n, 3) = ar/tot
      end do
   end subroutine casa_allocation

   ! ------------------------------------------------------------------ 4.6
   subroutine casa_xrateplant(ncell, params, phase, tair, btran, kcold, kdry, xkleaf)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: phase(ncell), tair(ncell), btran(ncell)
      real(dp), intent(out) :: kcold(ncell), kdry(ncell), xkleaf(ncell)
      real(dp) :: x, tks
      integer :: n
      do n = 1, ncell
         kcold(n) = 0.0_dp
         kdry(n) = 0.0_dp
         xkleaf(n) = 1.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         tks = params(n, P_TKSHED)
         if (tair(n) >= tks) then
            x = 1.0_dp
         else if (tair(n) <= tks - 5.0_dp) then
            x = 0.0_dp
         else
            x = (tair(n) - (tks - 5.0_dp))/5.0_dp
         end if
         x = min(1.0_dp, max(0.0_dp, x))
         kcold(n) = (DELTCASA*params(n, P_XKLEAFCOLDMAX))*((1.0_dp - x)**params(n, P_XKLEAFCOLDEXP))
         kdry(n) = (DELTCASA*params(n, P_XKLEAFDRYMAX))*((1.0_dp - btran(n))**params(n, P_XKLEAFDRYEXP))
         if (inint(phase(n)) == 1) xkleaf(n) = 0.0_dp
      end do
   end subroutine casa_xrateplant

   ! ------------------------------------------------------------------ 4.7
   subroutine casa_exudation(ncell, params, gpp, cexud)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(inout) :: gpp(ncell)
      real(dp), intent(out) :: cexud(ncell)
      integer :: n
      do n = 1, ncell
         cexud(n) = 0.0_dp
         if (cell_active(params(n, P_IVT2)) .and. gpp(n) > 0.0_dp) then
            cexud(n) = max(0.0_dp, params(n, P_FRACROOTEXUD)*gpp(n))
            gpp(n) = gpp(n) - cexud(n)
         end if
      end do
   end subroutine casa_exudation

   ! ------------------------------------------------------------------ 4.8
   !> Plant turnover rates kplant(ncell,3) (d-1); lai = start-of-day LAI.
   subroutine casa_kplant(ncell, params, lai, kcold, kdry, xkleaf, kplant)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: lai(ncell), kcold(ncell), kdry(ncell), xkleaf(ncell)
      real(dp), intent(out) :: kplant(ncell, 3)
      real(dp) :: rate_leaf
      integer :: n
      ! cells innermost, no early exit: the loop vectorises (casa_soil's casa_delsoil explains)
      do n = 1, ncell
         if (cell_active(params(n, P_IVT2))) then
            rate_leaf = DELTCASA/(params(n, P_AGE_LEAF)*(1.0_dp - params(n, P_FRACHERB)))
            kplant(n, 1) = (rate_leaf*xkleaf(n) + kcold(n)) + kdry(n)
            kplant(n, 2) = DELTCASA/params(n, P_AGE_WOOD)
            kplant(n, 3) = DELTCASA/params(n, P_AGE_FROOT)
         else
            kplant(n, 1) = 0.0_dp
            kplant(n, 2) = 0.0_dp
            kplant(n, 3) = 0.0_dp
         end if
         if (lai(n) <= params(n, P_LAIMIN)) kplant(n, 1) = 0.0_dp
      end do
   end subroutine casa_kplant

   !> CASA-soil metabolic fractions of leaf and fine-root litter (4.8), from the
   !> start-of-day plant C and N; 0 on icewater cells.
   subroutine casa_litter_fmet(ncell, params, cplant, nplant, fmet_leaf, fmet_froot)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: cplant(ncell, 3), nplant(ncell, 3)
      real(dp), intent(out) :: fmet_leaf(ncell), fmet_froot(ncell)
      real(dp) :: rln_leaf, rln_froot
      integer :: n
      do n = 1, ncell
         fmet_leaf(n) = 0.0_dp
         fmet_froot(n) = 0.0_dp
         if (cell_active(params(n, P_IVT2))) then
            rln_leaf = (cplant(n, 1)/(max(1.0e-10_dp, nplant(n, 1))*params(n, P_FTRANS_LEAF))) &
                       *params(n, P_LIG_LEAF)
            rln_froot = (cplant(n, 3)/(max(1.0e-10_dp, nplant(n, 3))*params(n, P_FTRANS_FROOT))) &
                        *params(n, P_LIG_FROOT)
            fmet_leaf(n) = max(0.001_dp, 0.75_dp*(0.85_dp - 0.013_dp*rln_leaf))
            fmet_froot(n) = max(0.001_dp, 0.75_dp*(0.85_dp - 0.013_dp*rln_froot))
         end if
      end do
   end subroutine casa_litter_fmet

   ! ------------------------------------------------------------------ 4.9
   !> N requirement NREQ(xnpp) for every cell (no icewater mask).
   subroutine casa_nrequire(ncell, params, xnpp, nsoilmin, fracc, kplant, cplant, nplant, rmin, rmax)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: xnpp(ncell), nsoilmin(ncell), fracc(ncell, 3), kplant(ncell, 3)
      real(dp), intent(in) :: cplant(ncell, 3), nplant(ncell, 3)
      real(dp), intent(out) :: rmin(ncell, 3), rmax(ncell, 3)
      real(dp) :: fnc, ncmin, ncmax, ncmaxtab, ftr, trans, nlmax, nlmin
      integer :: n, i, cmin, cmax, cft
      do i = 1, 3
         select case (i)
         case (1)
            cmin = P_NC_LEAF_MIN; cmax = P_NC_LEAF_MAX; cft = P_FTRANS_LEAF
         case (2)
            cmin = P_NC_WOOD_MIN; cmax = P_NC_WOOD_MAX; cft = P_FTRANS_WOOD
         case default
            cmin = P_NC_FROOT_MIN; cmax = P_NC_FROOT_MAX; cft = P_FTRANS_FROOT
         end select
         do n = 1, ncell
            ncmin = params(n, cmin)
            ncmaxtab = params(n, cmax)
            nlmax = params(n, P_XKNLIMITMAX)
            nlmin = params(n, P_XKNLIMITMIN)
            if (nsoilmin(n) < nlmax) then
               fnc = (1.0_dp/(nlmax - nlmin))*(nsoilmin(n) - nlmax) + 1.0_dp
               ncmax = ncmin + (ncmaxtab - ncmin)*min(1.0_dp, max(0.0_dp, fnc))
            else
               ncmax = ncmaxtab
            end if
            rmax(n, i) = (xnpp(n)*fracc(n, i))*ncmax
            rmin(n, i) = (xnpp(n)*fracc(n, i))*ncmin
            ftr = params(n, cft)
            trans = (kplant(n, i)*nplant(n, i))*(1.0_dp - ftr)
            rmax(n, i) = max(0.0_dp, rmax(n, i) - trans)
            rmin(n, i) = max(0.0_dp, rmin(n, i) - trans)
            if (nplant(n, i)/(cplant(n, i) + 1.0e-10_dp) > ncmaxtab) then
               rmax(n, i) = 0.0_dp
               rmin(n, i) = 0.0_dp
            end if
         end do
      end do
   end subroutine casa_nrequire

   !> N-limited NPP (casa_xnp, 4.9): npp reduced, fracclabile set; active cells only.
   subroutine casa_xnp(ncell, params, nsoilmin, fracc, kplant, cplant, nplant, gpp, npp, fracclabile)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: nsoilmin(ncell), fracc(ncell, 3), kplant(ncell, 3)
      real(dp), intent(in) :: cplant(ncell, 3), nplant(ncell, 3), gpp(ncell)
      real(dp), intent(inout) :: npp(ncell)
      real(dp), intent(out) :: fracclabile(ncell)
      real(dp), allocatable :: xnpp(:), rmin(:, :), rmax(:, :)
      real(dp) :: rtot, xnup
      integer :: n
      allocate (xnpp(ncell), rmin(ncell, 3), rmax(ncell, 3))
      do n = 1, ncell
         xnpp(n) = max(0.0_dp, npp(n))
      end do
      call casa_nrequire(ncell, params, xnpp, nsoilmin, fracc, kplant, cplant, nplant, rmin, rmax)
      do n = 1, ncell
         fracclabile(n) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         rtot = (rmin(n, 1) + rmin(n, 2)) + rmin(n, 3)
         xnup = max(0.0_dp, min(1.0_dp, nsoilmin(n)/(rtot*1.0_dp + 1.0e-10_dp)))
         if (npp(n) > 0.0_dp .and. xnup < 1.0_dp) then
            fracclabile(n) = (min(1.0_dp, max(0.0_dp, 1.0_dp - xnup))*max(0.0_dp, npp(n))) &
                             /(gpp(n) + 1.0e-10_dp)
            npp(n) = npp(n) - fracclabile(n)*gpp(n)
         end if
      end do
   end subroutine casa_xnp

   ! ------------------------------------------------------------------ 4.12
   subroutine casa_xkn2(ncell, params, casa_soil_mode, nsoilmin, clitter, xkn, rnew)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      logical, intent(in) :: casa_soil_mode   ! .false. for MIMICS: no Q16 override, no rnew
      real(dp), intent(in) :: nsoilmin(ncell), clitter(ncell, 3)
      real(dp), intent(out) :: xkn(ncell)
      real(dp), intent(inout) :: rnew(ncell, 3)
      real(dp) :: nlmax, nlmin, ncsmin, ncsmax
      integer :: n, k, cmn, cmx
      do n = 1, ncell
         xkn(n) = 1.0_dp
         if (.not. cell_active(params(n, P_IVT2))) cycle
         nlmax = params(n, P_XKNLIMITMAX)
         nlmin = params(n, P_XKNLIMITMIN)
         if (casa_soil_mode) then
            do k = 1, 3
               ! NCsoilmin = 1/CNmax, NCsoilmax = 1/CNmin (the naming swap of casa.md 1)
               cmn = P_CNMAX_MIC + (k - 1)
               cmx = P_CNMIN_MIC + (k - 1)
               ncsmin = 1.0_dp/params(n, cmn)
               ncsmax = 1.0_dp/params(n, cmx)
               if (nsoilmin(n) < nlmax) then
                  rnew(n, k) = ncsmin + ((ncsmax - ncsmin)*max(0.0_dp, nsoilmin(n)))/nlmax
               else
                  rnew(n, k) = ncsmax
               end if
            end do
         end if
         if (nsoilmin(n) - nlmax > 0.0_dp) then
            xkn(n) = 1.0_dp
         else
            xkn(n) = (1.0_dp/(nlmax - nlmin))*(nsoilmin(n) - nlmax) + 1.0_dp
            xkn(n) = max(0.0_dp, xkn(n))
            xkn(n) = min(1.0_dp, xkn(n))
         end if
         if (casa_soil_mode) then
            if ((clitter(n, 1) + clitter(n, 2)) + clitter(n, 3) > &
                params(n, P_MAXFINELITTER) + params(n, P_MAXCWD)) xkn(n) = 1.0_dp
         end if
      end do
   end subroutine casa_xkn2

   ! ------------------------------------------------------------------ 4.13
   subroutine casa_nuptake(ncell, params, nsoilmin, xkn, npp, fracc, kplant, cplant, nplant, &
                           nuptake, fracnalloc)
      integer, intent(in) :: ncell
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: nsoilmin(ncell), xkn(ncell), npp(ncell), fracc(ncell, 3)
      real(dp), intent(in) :: kplant(ncell, 3), cplant(ncell, 3), nplant(ncell, 3)
      real(dp), intent(out) :: nuptake(ncell), fracnalloc(ncell, 3)
      real(dp), allocatable :: xnpp(:), rmin(:, :), rmax(:, :), u(:, :)
      integer :: n, i
      allocate (xnpp(ncell), rmin(ncell, 3), rmax(ncell, 3), u(ncell, 3))
      do n = 1, ncell
         xnpp(n) = max(0.0_dp, npp(n))
      end do
      call casa_nrequire(ncell, params, xnpp, nsoilmin, fracc, kplant, cplant, nplant, rmin, rmax)
      do i = 1, 3
         do n = 1, ncell
            u(n, i) = rmin(n, i) + ((xkn(n)*(rmax(n, i) - rmin(n, i)))*nsoilmin(n)) &
                      /(nsoilmin(n) + params(n, P_KMINN))
         end do
      end do
      do n = 1, ncell
         nuptake(n) = ((u(n, 1) + u(n, 2)) + u(n, 3)) + 1.0e-10_dp
      end do
      do i = 1, 3
         do n = 1, ncell
            fracnalloc(n, i) = u(n, i)/nuptake(n)
         end do
      end do
      do n = 1, ncell
         nuptake(n) = merge(nuptake(n), 0.0_dp, cell_active(params(n, P_IVT2)))
      end do
      do i = 1, 3
         do n = 1, ncell
            fracnalloc(n, i) = merge(fracnalloc(n, i), 0.0_dp, cell_active(params(n, P_IVT2)))
         end do
      end do
   end subroutine casa_nuptake

   ! ------------------------------------------------------------------ 4.14 (plant part)
   !> Plant C, labile C and N tendencies (g m-2 d-1). dnturn(ncell,3): the plant N
   !> tendency from turnover alone (<= 0, before uptake; its opposite leaves as litter
   !> N); dnplant = dnturn + uptake. 0 on icewater cells; N only when icycle > 1.
   subroutine casa_plant_tendencies(ncell, params, icycle, npp, gpp, fracclabile, clabloss, fracc, &
                                    kplant, cplant, nplant, nuptake, fracnalloc, dcplant, dclabile, &
                                    dnturn, dnplant)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: npp(ncell), gpp(ncell), fracclabile(ncell), clabloss(ncell)
      real(dp), intent(in) :: fracc(ncell, 3), kplant(ncell, 3), cplant(ncell, 3), nplant(ncell, 3)
      real(dp), intent(in) :: nuptake(ncell), fracnalloc(ncell, 3)
      real(dp), intent(out) :: dcplant(ncell, 3), dclabile(ncell), dnturn(ncell, 3), dnplant(ncell, 3)
      integer :: n, i
      do i = 1, 3
         do n = 1, ncell
            dcplant(n, i) = npp(n)*fracc(n, i) - kplant(n, i)*cplant(n, i)
            dnturn(n, i) = 0.0_dp
            dnplant(n, i) = 0.0_dp
         end do
      end do
      do n = 1, ncell
         dclabile(n) = gpp(n)*fracclabile(n) - clabloss(n)
      end do
      if (icycle > 1) then
         do n = 1, ncell
            if (fracnalloc(n, 1) == 0.0_dp) then
               dnturn(n, 1) = -(kplant(n, 1)*nplant(n, 1))
            else
               dnturn(n, 1) = -(kplant(n, 1)*nplant(n, 1))*params(n, P_FTRANS_LEAF)
            end if
            dnturn(n, 2) = -(kplant(n, 2)*nplant(n, 2))*params(n, P_FTRANS_WOOD)
            dnturn(n, 3) = -(kplant(n, 3)*nplant(n, 3))*params(n, P_FTRANS_FROOT)
         end do
         do i = 1, 3
            do n = 1, ncell
               dnplant(n, i) = dnturn(n, i) + nuptake(n)*fracnalloc(n, i)
            end do
         end do
      end if
      do i = 1, 3
         do n = 1, ncell
            dcplant(n, i) = merge(dcplant(n, i), 0.0_dp, cell_active(params(n, P_IVT2)))
            dnturn(n, i) = merge(dnturn(n, i), 0.0_dp, cell_active(params(n, P_IVT2)))
            dnplant(n, i) = merge(dnplant(n, i), 0.0_dp, cell_active(params(n, P_IVT2)))
         end do
      end do
      do n = 1, ncell
         dclabile(n) = merge(dclabile(n), 0.0_dp, cell_active(params(n, P_IVT2)))
      end do
   end subroutine casa_plant_tendencies

   ! ------------------------------------------------------------------ 4.14 (litterfall)
   !> CASA-soil litter inputs from the start-of-day plant pools cplant: fluxc_lit /
   !> fluxn_lit (ncell,3) into met/str/cwd litter; clitinpt_str and nlitinpt_str
   !> WITHOUT the cwd parts (casa_soil adds cwd2str and k_cwd*N_cwd).
   subroutine casa_litterfall(ncell, params, icycle, cexud, kplant, cplant, fmet_leaf, fmet_froot, dnturn, &
                              fluxc_lit, fluxn_lit, clitinpt_met, clitinpt_str, nlitinpt_met, nlitinpt_str)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: cexud(ncell), kplant(ncell, 3), cplant(ncell, 3)
      real(dp), intent(in) :: fmet_leaf(ncell), fmet_froot(ncell), dnturn(ncell, 3)
      real(dp), intent(out) :: fluxc_lit(ncell, 3), fluxn_lit(ncell, 3)
      real(dp), intent(out) :: clitinpt_met(ncell), clitinpt_str(ncell)
      real(dp), intent(out) :: nlitinpt_met(ncell), nlitinpt_str(ncell)
      real(dp) :: fsl, fsr, cl2m, cl2s, cr2m, cr2s, nl2s, nr2s
      logical :: act
      integer :: n
      do n = 1, ncell
         fsl = 1.0_dp - fmet_leaf(n)
         fsr = 1.0_dp - fmet_froot(n)
         cl2m = (fmet_leaf(n)*kplant(n, 1))*cplant(n, 1)
         cl2s = (fsl*kplant(n, 1))*cplant(n, 1)
         cr2m = (fmet_froot(n)*kplant(n, 3))*cplant(n, 3)
         cr2s = (fsr*kplant(n, 3))*cplant(n, 3)
         ! sums over leaf, wood, froot from 0; the zero wood terms do not change them
         fluxc_lit(n, 1) = (cl2m + cr2m) + cexud(n)
         fluxc_lit(n, 2) = cl2s + cr2s
         fluxc_lit(n, 3) = kplant(n, 2)*cplant(n, 2)
         clitinpt_met(n) = cl2m + (cr2m + cexud(n))
         clitinpt_str(n) = cl2s + cr2s
         if (icycle > 1) then
            nl2s = cl2s*RATIO_NC_STR_FIX
            nr2s = cr2s*RATIO_NC_STR_FIX
            fluxn_lit(n, 2) = nl2s + nr2s
            fluxn_lit(n, 1) = ((-dnturn(n, 1)) - dnturn(n, 3)) - fluxn_lit(n, 2)
            fluxn_lit(n, 3) = -dnturn(n, 2)
            nlitinpt_met(n) = ((-dnturn(n, 1)) - nl2s) + ((-dnturn(n, 3)) - nr2s)
            nlitinpt_str(n) = nl2s + nr2s
         else
            fluxn_lit(n, 1) = 0.0_dp
            fluxn_lit(n, 2) = 0.0_dp
            fluxn_lit(n, 3) = 0.0_dp
            nlitinpt_met(n) = 0.0_dp
            nlitinpt_str(n) = 0.0_dp
         end if
         act = cell_active(params(n, P_IVT2))
         fluxc_lit(n, 1) = merge(fluxc_lit(n, 1), 0.0_dp, act)
         fluxc_lit(n, 2) = merge(fluxc_lit(n, 2), 0.0_dp, act)
         fluxc_lit(n, 3) = merge(fluxc_lit(n, 3), 0.0_dp, act)
         fluxn_lit(n, 1) = merge(fluxn_lit(n, 1), 0.0_dp, act)
         fluxn_lit(n, 2) = merge(fluxn_lit(n, 2), 0.0_dp, act)
         fluxn_lit(n, 3) = merge(fluxn_lit(n, 3), 0.0_dp, act)
         clitinpt_met(n) = merge(clitinpt_met(n), 0.0_dp, act)
         clitinpt_str(n) = merge(clitinpt_str(n), 0.0_dp, act)
         nlitinpt_met(n) = merge(nlitinpt_met(n), 0.0_dp, act)
         nlitinpt_str(n) = merge(nlitinpt_str(n), 0.0_dp, act)
      end do
   end subroutine casa_litterfall

   ! ------------------------------------------------------------------ 4.16 (plant part)
   subroutine casa_plant_update(ncell, params, icycle, dcplant, dclabile, dnplant, &
                                cplant, clabile, nplant, lai, csrc, nsrc, nneg)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: dcplant(ncell, 3), dclabile(ncell), dnplant(ncell, 3)
      real(dp), intent(inout) :: cplant(ncell, 3), clabile(ncell), nplant(ncell, 3), lai(ncell)
      real(dp), intent(out) :: csrc(ncell), nsrc(ncell)
      real(dp), intent(out) :: nneg(ncell)   !< number of pools reset from negative to 0
      integer :: n, i
      do n = 1, ncell
         csrc(n) = 0.0_dp
         nsrc(n) = 0.0_dp
         nneg(n) = 0.0_dp
         if (.not. cell_active(params(n, P_IVT2))) then
            lai(n) = 0.0_dp
            cycle
         end if
         do i = 1, 3
            cplant(n, i) = cplant(n, i) + dcplant(n, i)*1.0_dp
         end do
         clabile(n) = clabile(n) + dclabile(n)*1.0_dp
         if (icycle > 1) then
            if (cplant(n, 1) > 0.0_dp) then
               do i = 1, 3
                  nplant(n, i) = nplant(n, i) + dnplant(n, i)*1.0_dp
               end do
            else
               ! Q12: the plant N tendencies (incl. uptake) are lost
               nsrc(n) = nsrc(n) - ((dnplant(n, 1) + dnplant(n, 2)) + dnplant(n, 3))
            end if
         end if
         lai(n) = min(params(n, P_LAIMAX), max(params(n, P_LAIMIN), params(n, P_SLA)*cplant(n, 1)))
         do i = 1, 3
            if (cplant(n, i) < 0.0_dp) then
               csrc(n) = csrc(n) - cplant(n, i)
               nneg(n) = nneg(n) + 1.0_dp
               cplant(n, i) = 0.0_dp
            end if
         end do
         if (icycle > 1) then
            do i = 1, 3
               if (nplant(n, i) < 0.0_dp) then
                  nsrc(n) = nsrc(n) - nplant(n, i)
                  nneg(n) = nneg(n) + 1.0_dp
                  nplant(n, i) = 0.0_dp
               end if
            end do
         end if
      end do
   end subroutine casa_plant_update

   ! ------------------------------------------------------------------ 4.17
   subroutine casa_end_of_day_np(ncell, params, icycle, cplant, nplant, pplant)
      integer, intent(in) :: ncell, icycle
      real(dp), intent(in) :: params(ncell, NCASAPARAM)
      real(dp), intent(in) :: cplant(ncell, 3)
      real(dp), intent(inout) :: nplant(ncell, 3), pplant(ncell, 3)
      integer :: n
      if (icycle < 3) then
         do n = 1, ncell
            pplant(n, 1) = nplant(n, 1)/params(n, P_NP_LEAF_MIN)
            pplant(n, 2) = nplant(n, 2)/params(n, P_NP_WOOD_MIN)
            pplant(n, 3) = nplant(n, 3)/params(n, P_NP_FROOT_MIN)
         end do
      end if
      if (icycle < 2) then
         do n = 1, ncell
            nplant(n, 1) = cplant(n, 1)*(1.0_dp/params(n, P_CN_LEAF))
            nplant(n, 2) = cplant(n, 2)*(1.0_dp/params(n, P_CN_WOOD))
            nplant(n, 3) = cplant(n, 3)*(1.0_dp/params(n, P_CN_FROOT))
         end do
      end if
   end subroutine casa_end_of_day_np

end module casa_veg
