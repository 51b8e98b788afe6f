!> MIMICS soil model (reverse Michaelis-Menten, C and C-N) over a chunk of cells.
!>
!> Spec: /work/shared/spec/mimics.md, sections 4.1-4.14. Every routine works on
!> n cells (cells fastest) and keeps the spec's evaluation order literally.
!> No I/O and no module-level mutable state; the only module data are named
!> constants (column indices of the work arrays below).
!>
!> Work arrays (all real(dp), cells fastest):
!>   cp(n, NCP)  per-cell CASA-derived constants that MIMICS reads (CP_* indices),
!>               built by mimics_casa_constants from the CASA parameter table.
!>   q(n, NQ)    the day's MIMICS quantities (Q_* indices): static 4.1 values,
!>               coeffplant / CWD / delplant results, daily fractions, kinetic
!>               parameters, daily accumulators and the mineral-N bookkeeping.
!>   mc(n,7), mn(n,7)  MIMICS C and N pools (LITm, LITs, MICr, MICk, SOMa, SOMc,
!>               SOMp), mg cm-3, i.e. state(:, S_LITM:S_SOMP) / state(:, S_LITMN:S_SOMPN).
!>
!> Routines, in the order of a day (mimics.md 3.2):
!>   mimics_casa_constants  CASA parameter table -> cp (casa.md 5.2)
!>   mimics_static          4.1  Kmod (with Pscalar), desorp, u, static lignin:N
!>   mimics_coeffplant      4.2  dynamic lignin:N (CN), fromPtoL, kplant
!>   mimics_cwd_rate        4.3  CWD decay rate and its CO2 fraction
!>   mimics_delplant        4.4  plant / CWD tendencies, MIMICS litter inputs, lignin:N
!>   mimics_fractions       4.5  fmet, fPHYS, fCHEM, fAVAL (all cells)
!>   mimics_leach           4.12 (before the hours) leaching, DIN start, accumulators reset
!>   mimics_environment     4.6-4.7 fW, thetas, Vmax, Km, tauMod, tauR/K, CN targets, desorption
!>   mimics_hours           4.8-4.10 the 24 hourly explicit steps (C or CN)
!>   mimics_nbook           4.12 (after the hours) Nsnet, Nminloss, dNsoilmindt
!>   mimics_cycle           4.13 daily CASA pool update; then caccum (4.11: Chresp += cwd2co2/u)
module mimics_soil
   use tb_precision, only: dp, TKZERO, DELTCASA
   use tb_layout
   use casa_veg, only: inint
   use tb_moisture, only: vg_psi, f_psi, heterogeneity_mm, heterogeneity_mm_vmax, fw_wfps, no_moisture_limit
   implicit none
   private

   integer, parameter, public :: NHOURS = 24
   !> cells per chunk of the hourly loop (its working set stays in the L1 cache)
   integer, parameter :: HOUR_CHUNK = 32

   ! ---- per-cell CASA-derived constants (cp) -------------------------------
   integer, parameter, public :: CP_IVEG = 1, CP_IVT2 = 2
   integer, parameter, public :: CP_PLANTRATE = 3      ! 3..5   leaf, wood, froot (d-1)
   integer, parameter, public :: CP_RNC = 6            ! 6..8   ratioNCplant = 1/(C:N)
   integer, parameter, public :: CP_NCMIN = 9          ! 9..11  ratioNCplantmin
   integer, parameter, public :: CP_FTRANS = 12        ! 12..14 ftransNPtoL
   integer, parameter, public :: CP_LIGNIN = 15        ! 15..17 fracLigninplant
   integer, parameter, public :: CP_GLAIMIN = 18, CP_GLAIMAX = 19, CP_SLA = 20
   integer, parameter, public :: CP_XKOPTLITTER = 21, CP_Q10SOIL = 22, CP_LITTERRATE_CWD = 23
   integer, parameter, public :: CP_CLAY = 24, CP_SSAT = 25
   integer, parameter, public :: CP_FNMINLEACH = 26, CP_FNMINLOSS = 27, CP_NMINFIX = 28
   integer, parameter, public :: CP_VG_THETA_R = 29, CP_VG_ALPHA = 30, CP_VG_N = 31, CP_FW_MIN = 32
   integer, parameter, public :: NCP = 32

   ! ---- the day's MIMICS quantities (q) -----------------------------------
   integer, parameter, public :: Q_KMOD = 1            ! 1..6  Km divisors (r3, k3 x Pscalar)
   integer, parameter, public :: Q_DESORP = 7, Q_U = 8, Q_DEPTH = 9
   integer, parameter, public :: Q_LN = 10             ! 10..12 lignin:N leaf, wood, froot
   integer, parameter, public :: Q_KPLANT = 13         ! 13..15
   integer, parameter, public :: Q_FMET_LEAF = 16, Q_FMET_FROOT = 17   ! fromPtoL(met, .)
   integer, parameter, public :: Q_KLIT_CWD = 18, Q_CWD_CO2FRAC = 19
   integer, parameter, public :: Q_DCPLANT = 20        ! 20..22
   integer, parameter, public :: Q_DNPLANT = 23        ! 23..25
   integer, parameter, public :: Q_DCLABILE = 26, Q_DCLIT_CWD = 27, Q_DNLIT_CWD = 28
   integer, parameter, public :: Q_CLEAF2MET = 29, Q_CLEAF2STR = 30, Q_CROOT2MET = 31
   integer, parameter, public :: Q_CROOT2STR = 32, Q_CWOOD2CWD = 33
   integer, parameter, public :: Q_NLEAF2MET = 34, Q_NLEAF2STR = 35, Q_NROOT2MET = 36
   integer, parameter, public :: Q_NROOT2STR = 37, Q_NWOOD2CWD = 38
   integer, parameter, public :: Q_CWD2CO2 = 39, Q_CWD2STR = 40, Q_NWD2STR = 41
   integer, parameter, public :: Q_CLITIN_MET = 42, Q_CLITIN_STR = 43     ! mg cm-3 d-1
   integer, parameter, public :: Q_NLITIN_MET = 44, Q_NLITIN_STR = 45
   integer, parameter, public :: Q_CLITINPT_MET = 46, Q_CLITINPT_STR = 47 ! g m-2 d-1
   integer, parameter, public :: Q_NLITINPT_MET = 48, Q_NLITINPT_STR = 49
   integer, parameter, public :: Q_LIGNINNRATIO = 50, Q_FMET = 51
   integer, parameter, public :: Q_FPHYS_R = 52, Q_FPHYS_K = 53, Q_FCHEM_R = 54, Q_FCHEM_K = 55
   integer, parameter, public :: Q_FAVAL_R = 56, Q_FAVAL_K = 57
   integer, parameter, public :: Q_FW = 58, Q_THETALIQ = 59, Q_THETAFRZN = 60
   integer, parameter, public :: Q_TAUMOD = 61, Q_TAUR = 62, Q_TAUK = 63
   integer, parameter, public :: Q_CN_R = 64, Q_CN_K = 65, Q_DESORPTION = 66
   integer, parameter, public :: Q_VMAX = 67           ! 67..72
   integer, parameter, public :: Q_KM = 73             ! 73..78
   integer, parameter, public :: Q_DIN = 79, Q_DINSTART = 80
   integer, parameter, public :: Q_CHRESP = 81, Q_CSOMPIN = 82, Q_OVERFLOW_R = 83, Q_OVERFLOW_K = 84
   integer, parameter, public :: Q_NLITTERMIN = 85, Q_NSMIN = 86, Q_NSIMM = 87, Q_NSNET = 88
   integer, parameter, public :: Q_NMINLOSS = 89, Q_NMINLEACH = 90, Q_DNSOILMINDT = 91
   integer, parameter, public :: Q_PSI = 92, Q_HET_CLAMPED = 93
   ! root exudation (seed_processes.md 1.3, 1.6): direct-uptake input (mg cm-3 d-1) and the day's
   ! microbial diagnostics (mg cm-3 d-1), set with M_EXUD_DIAG
   integer, parameter, public :: Q_EXC = 94, Q_EXN = 95, Q_EXUP = 96
   integer, parameter, public :: Q_UP_R = 97, Q_UP_K = 98, Q_RS_R = 99, Q_RS_K = 100
   integer, parameter, public :: Q_NEC = 101           ! 101..103 SOMp, SOMc, SOMa (C)
   integer, parameter, public :: Q_NECN = 104          ! 104..106 SOMp, SOMc, SOMa (N)
   ! semi-analytic spin-up (docs/spinup.md "sasu"): the day's carbon fluxes between the pools (mg cm-3 d-1),
   ! summed over the hours, set with M_SASU_DIAG: Q_SASU + SX_* (litmin1..4, sommin1..2, trn1..6, desorp,
   ! oxidat, overflow r, k)
   integer, parameter, public :: Q_SASU = 107          ! 107..122
   integer, parameter, public :: NSASU = 16
   integer, parameter, public :: SX_LITMIN = 0, SX_SOMMIN = 4, SX_TRN = 6, SX_DESORP = 12, SX_OXIDAT = 13
   integer, parameter, public :: SX_OVF = 14
   integer, parameter, public :: NQ = 122

   ! pool order inside mc / mn
   integer, parameter :: LITM = 1, LITS = 2, MICR = 3, MICK = 4, SOMA = 5, SOMC = 6, SOMP = 7
   integer, parameter :: LEAF = 1, WOOD = 2, FROOT = 3
   !> the fine roots' index in the host's plant pools (cplant, and the rates from Q_KPLANT on), for other modules
   integer, parameter, public :: PLANT_FROOT = FROOT

   real(dp), parameter :: EPS10 = 1.0e-10_dp
   real(dp), parameter :: RATIONCSTRFIX = 1.0_dp/150.0_dp

   public :: mimics_casa_constants, mimics_static, mimics_coeffplant, mimics_cwd_rate
   public :: mimics_delplant, mimics_fractions, mimics_leach, mimics_environment
   public :: mimics_hours, mimics_nbook, mimics_cycle
   public :: mimics_exudate_inputs

contains

   ! ---------------------------------------------------------------------------
   !> CASA parameter table columns (P_*) -> the CASA constants MIMICS reads
   !> (casa.md 5.2, mimics.md 2.1). Per-day rates from per-year values.
   subroutine mimics_casa_constants(n, params, cp)
      integer, intent(in) :: n
      real(dp), intent(in) :: params(n, NCASAPARAM)
      real(dp), intent(out) :: cp(n, NCP)
      integer :: i
      do i = 1, n
         cp(i, CP_IVEG) = params(i, P_IVEG)
         cp(i, CP_IVT2) = params(i, P_IVT2)
         cp(i, CP_PLANTRATE + 0) = DELTCASA/(params(i, P_AGE_LEAF)*(1.0_dp - params(i, P_FRACHERB)))
         cp(i, CP_PLANTRATE + 1) = DELTCASA/params(i, P_AGE_WOOD)
         cp(i, CP_PLANTRATE + 2) = DELTCASA/params(i, P_AGE_FROOT)
         cp(i, CP_RNC + 0) = 1.0_dp/params(i, P_CN_LEAF)
         cp(i, CP_RNC + 1) = 1.0_dp/params(i, P_CN_WOOD)
         cp(i, CP_RNC + 2) = 1.0_dp/params(i, P_CN_FROOT)
         cp(i, CP_NCMIN + 0) = params(i, P_NC_LEAF_MIN)
         cp(i, CP_NCMIN + 1) = params(i, P_NC_WOOD_MIN)
         cp(i, CP_NCMIN + 2) = params(i, P_NC_FROOT_MIN)
         cp(i, CP_FTRANS + 0) = params(i, P_FTRANS_LEAF)
         cp(i, CP_FTRANS + 1) = params(i, P_FTRANS_WOOD)
         cp(i, CP_FTRANS + 2) = params(i, P_FTRANS_FROOT)
         cp(i, CP_LIGNIN + 0) = params(i, P_LIG_LEAF)
         cp(i, CP_LIGNIN + 1) = params(i, P_LIG_WOOD)
         cp(i, CP_LIGNIN + 2) = params(i, P_LIG_FROOT)
         cp(i, CP_GLAIMIN) = params(i, P_LAIMIN)
         cp(i, CP_GLAIMAX) = params(i, P_LAIMAX)
         cp(i, CP_SLA) = params(i, P_SLA)
         cp(i, CP_XKOPTLITTER) = params(i, P_XKOPTLITTER)
         cp(i, CP_Q10SOIL) = params(i, P_Q10SOIL)
         cp(i, CP_LITTERRATE_CWD) = DELTCASA/params(i, P_AGE_CWD)
         cp(i, CP_CLAY) = params(i, P_CLAY)
         cp(i, CP_SSAT) = params(i, P_SSAT)
         cp(i, CP_FNMINLEACH) = (10.0_dp*params(i, P_XNLEACH))*DELTCASA
         cp(i, CP_FNMINLOSS) = params(i, P_XNMINLOSS)
         cp(i, CP_NMINFIX) = params(i, P_NFIXRATE)/365.0_dp
         cp(i, CP_VG_THETA_R) = params(i, P_VG_THETA_R)
         cp(i, CP_VG_ALPHA) = params(i, P_VG_ALPHA)
         cp(i, CP_VG_N) = params(i, P_VG_N)
         cp(i, CP_FW_MIN) = params(i, P_FW_MIN)
      end do
   end subroutine mimics_casa_constants

   ! ---------------------------------------------------------------------------
   !> 4.1 static per-cell quantities: Kmod (r3, k3 scaled by Pscalar), desorption
   !> rate, depth and u = 10*depth, and the static lignin:N of the three parts.
   subroutine mimics_static(n, mp, cp, q)
      integer, intent(in) :: n
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i, k
      real(dp) :: ps, clay
      do i = 1, n
         clay = cp(i, CP_CLAY)
         ps = mp(i, M_PHYS_SCALAR)*exp(mp(i, M_PHYS_SCALAR + 1)*sqrt(clay))
         q(i, Q_KMOD + 0) = mp(i, M_KMOD + 0)
         q(i, Q_KMOD + 1) = mp(i, M_KMOD + 1)
         q(i, Q_KMOD + 2) = mp(i, M_KMOD + 2)*ps
         q(i, Q_KMOD + 3) = mp(i, M_KMOD + 3)
         q(i, Q_KMOD + 4) = mp(i, M_KMOD + 4)
         q(i, Q_KMOD + 5) = mp(i, M_KMOD + 5)*ps
         q(i, Q_DESORP) = mp(i, M_FSOM_P)*exp(mp(i, M_FSOM_P + 1)*clay)
         ! 4.5's physically protected fractions depend on clay only: once per call, not per day
         q(i, Q_FPHYS_R) = mp(i, M_FPHYS_R)*exp(mp(i, M_FPHYS_R + 1)*clay)
         q(i, Q_FPHYS_K) = mp(i, M_FPHYS_K)*exp(mp(i, M_FPHYS_K + 1)*clay)
         q(i, Q_DEPTH) = mp(i, M_DEPTH)
         q(i, Q_U) = 10.0_dp*mp(i, M_DEPTH)
         do k = 0, 2
            q(i, Q_LN + k) = cp(i, CP_LIGNIN + k)/max(0.001_dp, cp(i, CP_RNC + k))
         end do
      end do
   end subroutine mimics_static

   ! ---------------------------------------------------------------------------
   !> 4.2 litter partitioning of plant turnover. CN (icycle > 1): lignin:N of
   !> leaf and fine root from the start-of-day plant C and N. Sets Q_FMET_LEAF and
   !> Q_FMET_FROOT (metabolic fractions; structural = 1 - met, wood -> CWD). The
   !> turnover rates (Q_KPLANT) come from the vegetation day (casa_kplant).
   subroutine mimics_coeffplant(n, icycle, mp, cp, cplant, nplant, q)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(in) :: cplant(n, 3), nplant(n, 3)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i, p, k
      real(dp) :: cnmax, ratio, ln
      do i = 1, n
         q(i, Q_FMET_LEAF) = 0.0_dp
         q(i, Q_FMET_FROOT) = 0.0_dp
         if (inint(cp(i, CP_IVT2)) /= 0) then
            if (icycle > 1) then
               do k = 1, 2
                  p = merge(LEAF, FROOT, k == 1)
                  cnmax = 1.0_dp/cp(i, CP_NCMIN + p - 1)
                  ratio = cplant(i, p)/max(EPS10, nplant(i, p))
                  if (ratio > cnmax) then
                     ln = (cnmax/cp(i, CP_FTRANS + p - 1))*cp(i, CP_LIGNIN + p - 1)
                  else
                     ln = (cplant(i, p)/(max(EPS10, nplant(i, p))*cp(i, CP_FTRANS + p - 1)))*cp(i, CP_LIGNIN + p - 1)
                  end if
                  q(i, Q_LN + p - 1) = ln
               end do
            end if
            q(i, Q_FMET_LEAF) = max(0.001_dp, mp(i, M_FMET_P)*(mp(i, M_FMET_P + 1) - mp(i, M_FMET_P + 2)*q(i, Q_LN + 0)))
            q(i, Q_FMET_FROOT) = max(0.001_dp, mp(i, M_FMET_P)*(mp(i, M_FMET_P + 1) - mp(i, M_FMET_P + 2)*q(i, Q_LN + 2)))
         end if
      end do
   end subroutine mimics_coeffplant

   ! ---------------------------------------------------------------------------
   !> 4.3 CWD decay rate (d-1) and the fraction of decayed CWD C respired.
   subroutine mimics_cwd_rate(n, cp, tsoilavg, moistavg, q)
      integer, intent(in) :: n
      real(dp), intent(in) :: cp(n, NCP), tsoilavg(n), moistavg(n)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i
      real(dp) :: fwps, xktemp, xkwater, ligw
      do i = 1, n
         q(i, Q_KLIT_CWD) = 0.0_dp
         q(i, Q_CWD_CO2FRAC) = 0.0_dp
         if (inint(cp(i, CP_IVT2)) == 0) cycle
         fwps = min(1.0_dp, moistavg(i)/cp(i, CP_SSAT))
         xktemp = cp(i, CP_Q10SOIL)**(0.1_dp*((tsoilavg(i) - TKZERO) - 35.0_dp))
         if (no_moisture_limit(inint(cp(i, CP_IVEG)))) then
            xkwater = 1.0_dp
         else
            xkwater = fw_wfps(fwps)
         end if
         q(i, Q_KLIT_CWD) = ((cp(i, CP_XKOPTLITTER)*xktemp)*xkwater)*cp(i, CP_LITTERRATE_CWD)
         ligw = cp(i, CP_LIGNIN + 1)
         q(i, Q_CWD_CO2FRAC) = min(1.0_dp, max(0.0_dp, (1.0_dp - 0.40_dp*(1.0_dp - ligw)) - 0.7_dp*ligw))
      end do
   end subroutine mimics_cwd_rate

   ! ---------------------------------------------------------------------------
   !> 4.4 CWD tendencies (g m-2 d-1), litter fluxes from the start-of-day plant
   !> pools cplant, MIMICS litter inputs (mg cm-3 d-1) and the input-weighted
   !> lignin:N. The plant tendencies are those of the vegetation day; dnturn is its
   !> plant N tendency from turnover alone (read when icycle > 1). Icewater cells get 0.
   subroutine mimics_delplant(n, icycle, cp, cplant, dnturn, clit_cwd, nlit_cwd, cexudate, q)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: cp(n, NCP), cplant(n, 3), dnturn(n, 3), clit_cwd(n), nlit_cwd(n), cexudate(n)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i
      real(dp) :: kl, kw, kr, fml, fsl, fmr, fsr, c2m, c2s, r2m, r2s, w2c, n2sl, n2sr, klit, fco2, d
      real(dp) :: cwd2co2, cwd2str, nwd2str, num, den
      ! the day's columns zeroed as whole columns (contiguous), then the cells
      q(:, Q_DCLABILE:Q_DNLIT_CWD) = 0.0_dp
      q(:, Q_CLEAF2MET:Q_NLITINPT_STR) = 0.0_dp
      q(:, Q_LIGNINNRATIO) = 0.0_dp
      do i = 1, n
         if (inint(cp(i, CP_IVT2)) == 0) cycle
         kl = q(i, Q_KPLANT + 0); kw = q(i, Q_KPLANT + 1); kr = q(i, Q_KPLANT + 2)
         fml = q(i, Q_FMET_LEAF); fsl = 1.0_dp - fml
         fmr = q(i, Q_FMET_FROOT); fsr = 1.0_dp - fmr
         c2m = (fml*kl)*cplant(i, LEAF)
         c2s = (fsl*kl)*cplant(i, LEAF)
         r2m = (fmr*kr)*cplant(i, FROOT) + cexudate(i)
         r2s = (fsr*kr)*cplant(i, FROOT)
         w2c = (1.0_dp*kw)*cplant(i, WOOD)
         q(i, Q_CLEAF2MET) = c2m; q(i, Q_CLEAF2STR) = c2s
         q(i, Q_CROOT2MET) = r2m; q(i, Q_CROOT2STR) = r2s; q(i, Q_CWOOD2CWD) = w2c
         klit = q(i, Q_KLIT_CWD); fco2 = q(i, Q_CWD_CO2FRAC)
         cwd2co2 = (fco2*klit)*clit_cwd(i)
         cwd2str = ((1.0_dp - fco2)*klit)*clit_cwd(i)
         q(i, Q_CWD2CO2) = cwd2co2; q(i, Q_CWD2STR) = cwd2str
         q(i, Q_DCLIT_CWD) = w2c - klit*clit_cwd(i)
         d = q(i, Q_DEPTH)
         q(i, Q_CLITIN_MET) = ((c2m + r2m)*0.1_dp)/d
         q(i, Q_CLITIN_STR) = (((c2s + r2s) + cwd2str)*0.1_dp)/d
         q(i, Q_CLITINPT_MET) = c2m + r2m
         q(i, Q_CLITINPT_STR) = (c2s + r2s) + cwd2str
         if (icycle > 1) then
            n2sl = ((fsl*kl)*cplant(i, LEAF))*RATIONCSTRFIX
            n2sr = ((fsr*kr)*cplant(i, FROOT))*RATIONCSTRFIX
            q(i, Q_NLEAF2STR) = n2sl
            q(i, Q_NROOT2STR) = n2sr
            q(i, Q_NLEAF2MET) = (-dnturn(i, LEAF)) - n2sl
            q(i, Q_NROOT2MET) = (-dnturn(i, FROOT)) - n2sr
            q(i, Q_NWOOD2CWD) = -dnturn(i, WOOD)
            nwd2str = klit*nlit_cwd(i)
            q(i, Q_NWD2STR) = nwd2str
            q(i, Q_DNLIT_CWD) = q(i, Q_NWOOD2CWD) - klit*nlit_cwd(i)
            q(i, Q_NLITIN_MET) = ((q(i, Q_NLEAF2MET) + q(i, Q_NROOT2MET))*0.1_dp)/d
            q(i, Q_NLITIN_STR) = (((n2sl + n2sr) + nwd2str)*0.1_dp)/d
            q(i, Q_NLITINPT_MET) = q(i, Q_NLEAF2MET) + q(i, Q_NROOT2MET)
            q(i, Q_NLITINPT_STR) = (n2sl + n2sr) + nwd2str
         end if
         num = (q(i, Q_LN + 0)*(c2m + c2s) + q(i, Q_LN + 2)*(r2m + r2s)) + q(i, Q_LN + 1)*cwd2str
         den = max(0.001_dp, (((c2m + c2s) + r2m) + r2s) + cwd2str)
         q(i, Q_LIGNINNRATIO) = min(40.0_dp, num/den)
      end do
   end subroutine mimics_delplant

   ! ---------------------------------------------------------------------------
   !> 4.5 litter-quality fractions, for all cells (icewater: lignin:N = 0); the physically protected ones (Q_FPHYS_*)
   !> depend on clay only and are set once per call by mimics_static.
   subroutine mimics_fractions(n, mp, q)
      integer, intent(in) :: n
      real(dp), intent(in) :: mp(n, NMIMICSPARAM)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i
      real(dp) :: fmet, ar, ak, er, ek
      do i = 1, n
         fmet = mp(i, M_FMET_P)*(mp(i, M_FMET_P + 1) - mp(i, M_FMET_P + 2)*q(i, Q_LIGNINNRATIO))
         q(i, Q_FMET) = fmet
         ! the two exponents are usually the same (params_mimics.nml): exp is called again only for a new argument
         ar = mp(i, M_FCHEM_R + 1)*fmet
         ak = mp(i, M_FCHEM_K + 1)*fmet
         er = exp(ar)
         if (ak == ar) then
            ek = er
         else
            ek = exp(ak)
         end if
         q(i, Q_FCHEM_R) = (mp(i, M_FCHEM_R)*er)*mp(i, M_FCHEM_R + 2)
         q(i, Q_FCHEM_K) = (mp(i, M_FCHEM_K)*ek)*mp(i, M_FCHEM_K + 2)
         q(i, Q_FAVAL_R) = (1.0_dp - q(i, Q_FCHEM_R)) - q(i, Q_FPHYS_R)
         q(i, Q_FAVAL_K) = (1.0_dp - q(i, Q_FCHEM_K)) - q(i, Q_FPHYS_K)
      end do
   end subroutine mimics_fractions

   ! ---------------------------------------------------------------------------
   !> 4.12, before the hours: zero the day's accumulators; CN: leach the
   !> start-of-day mineral N (nsoilmin is modified in place) and set DIN.
   subroutine mimics_leach(n, icycle, mp, cp, nsoilmin, q)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(inout) :: nsoilmin(n), q(n, NQ)
      integer :: i
      real(dp) :: rconv
      ! the day's accumulators zeroed as whole columns (contiguous), then the cells
      q(:, Q_NLITTERMIN:Q_DNSOILMINDT) = 0.0_dp
      q(:, Q_CHRESP:Q_CSOMPIN) = 0.0_dp
      if (icycle > 1) q(:, Q_OVERFLOW_R:Q_OVERFLOW_K) = 0.0_dp
      do i = 1, n
         if (inint(cp(i, CP_IVT2)) == 0) cycle
         if (icycle > 1) then
            q(i, Q_NMINLEACH) = nsoilmin(i)*cp(i, CP_FNMINLEACH)
            nsoilmin(i) = nsoilmin(i) - q(i, Q_NMINLEACH)
            rconv = 1.0_dp/q(i, Q_U)
            q(i, Q_DIN) = (mp(i, M_FRACDINAVAILMIC)*nsoilmin(i))*rconv
            q(i, Q_DINSTART) = q(i, Q_DIN)
         end if
      end do
   end subroutine mimics_leach

   ! ---------------------------------------------------------------------------
   !> 4.6-4.7 the day's moisture scalars and kinetic parameters (non-icewater).
   !> cnppan: previous-year NPP (gC m-2 yr-1).
   subroutine mimics_environment(n, icycle, mp, cp, tsoilavg, moistavg, frznmoistavg, cnppan, q)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(in) :: tsoilavg(n), moistavg(n), frznmoistavg(n), cnppan(n)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i, j, ifw
      real(dp) :: ts, thl, thf, afp, fw, x, taumod, fmet
      real(dp) :: va, ka, va0, ka0, ve, ke   ! exp's arguments and values of the Vmax and Km pathways
      do i = 1, n
         if (inint(cp(i, CP_IVT2)) == 0) then
            q(i, Q_FW) = 0.0_dp; q(i, Q_THETALIQ) = 0.0_dp; q(i, Q_THETAFRZN) = 0.0_dp
            cycle
         end if
         ts = tsoilavg(i) - TKZERO
         thl = min(1.0_dp, moistavg(i)/cp(i, CP_SSAT))
         thf = min(1.0_dp, frznmoistavg(i)/cp(i, CP_SSAT))
         afp = max(0.0_dp, (1.0_dp - thl) - thf)
         ifw = inint(mp(i, M_FWFUNCTION))
         if (ifw == 3) then
            if (icycle > 1) then
               fw = (((thl*thl)*thl)*afp**2.5_dp)*44.2466756824402_dp
            else
               fw = (((thl*thl)*thl)*afp**2.5_dp)/0.022600567942709_dp
            end if
            fw = max(0.05_dp, fw)
         else if (ifw == 4) then
            ! water-potential scalar (seed_processes.md 2.3) of the root-weighted moisture
            q(i, Q_PSI) = vg_psi(moistavg(i), cp(i, CP_VG_THETA_R), cp(i, CP_SSAT), cp(i, CP_VG_ALPHA), &
                                 cp(i, CP_VG_N))
            fw = max(cp(i, CP_FW_MIN), f_psi(q(i, Q_PSI)))
         else if (ifw == 1) then
            fw = fw_wfps(thl)
            fw = min(fw, 1.0_dp)
            fw = max(0.01_dp, fw)
         else
            fw = 1.0_dp
         end if
         q(i, Q_FW) = fw; q(i, Q_THETALIQ) = thl; q(i, Q_THETAFRZN) = thf
         ! the six pathways usually share slope and intercept (params_mimics.nml): exp is called again only for a new
         ! argument (the same argument gives the same value, so the result is the same bit for bit)
         do j = 0, 5
            va = mp(i, M_VSLOPE + j)*ts + mp(i, M_VINT + j)
            ka = mp(i, M_KSLOPE + j)*ts + mp(i, M_KINT + j)
            if (j == 0) then
               ve = exp(va)
               ke = exp(ka)
            else
               if (va /= va0) ve = exp(va)
               if (ka /= ka0) ke = exp(ka)
            end if
            va0 = va; ka0 = ka
            q(i, Q_VMAX + j) = ((ve*mp(i, M_AV + j))*mp(i, M_VMOD + j))*fw
            q(i, Q_KM + j) = (ke*mp(i, M_AK + j))/q(i, Q_KMOD + j)
         end do
         ! sqrt of a negative NPP is NaN; gfortran MAX then yields tauMod_MIN (mimics.md Q19)
         x = cnppan(i)/mp(i, M_TAUMOD_DENOM)
         if (x >= 0.0_dp) then
            taumod = min(mp(i, M_TAUMOD_MAX), max(mp(i, M_TAUMOD_MIN), sqrt(x)))
         else
            taumod = mp(i, M_TAUMOD_MIN)
         end if
         q(i, Q_TAUMOD) = taumod
         fmet = q(i, Q_FMET)
         if (ifw == 4 .and. mp(i, M_FWONTAU) == 0.0_dp) fw = 1.0_dp   ! S001: no moisture effect on death
         q(i, Q_TAUR) = ((mp(i, M_TAU_R)*exp(mp(i, M_TAU_R + 1)*fmet))*taumod)*fw
         q(i, Q_TAUK) = ((mp(i, M_TAU_K)*exp(mp(i, M_TAU_K + 1)*fmet))*taumod)*fw
         if (icycle > 1) then
            q(i, Q_CN_R) = mp(i, M_CNR)*sqrt(mp(i, M_CNMODNUM)/fmet)
            q(i, Q_CN_K) = mp(i, M_CNK)*sqrt(mp(i, M_CNMODNUM)/fmet)
         end if
         if (mp(i, M_DESORPQ10) < 0.0_dp) then
            q(i, Q_DESORPTION) = q(i, Q_DESORP)
         else
            q(i, Q_DESORPTION) = q(i, Q_DESORP)*(mp(i, M_DESORPQ10)*exp((ts - mp(i, M_DESORPTREF))/10.0_dp))
         end if
         ! heterogeneity of the linear desorption k SOMp: 1 + rho CVk CVC (seed_processes.md 3.1)
         if (mp(i, M_HET_MM) /= 0.0_dp) q(i, Q_DESORPTION) = q(i, Q_DESORPTION) &
            *max(mp(i, M_PHI_MIN), 1.0_dp + (mp(i, M_RHO_DESORP)*mp(i, M_CVK_DESORP))*mp(i, M_CV + 6))
      end do
   end subroutine mimics_environment

   ! ---------------------------------------------------------------------------
   !> 4.8-4.10: 24 explicit hourly steps of reverse Michaelis-Menten kinetics
   !> for every non-icewater cell. Updates mc (and, CN, mn and Q_DIN) and the
   !> day's accumulators Q_CHRESP, Q_CSOMPIN, Q_OVERFLOW_*, Q_NLITTERMIN, Q_NSMIN, Q_NSIMM.
   !> The cells are taken in chunks of HOUR_CHUNK with the cell loop innermost, so
   !> that independent cells fill the pipeline and the vector units; each cell's
   !> arithmetic is exactly that of the spec, hour after hour (mimics_hours_chunk;
   !> mimics_hours_chunk_options for a chunk with a het_mm cell or exudation).
   subroutine mimics_hours(n, icycle, mp, cp, q, mc, mn)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(inout) :: q(n, NQ), mc(n, 7), mn(n, 7)
      integer :: i0, m, i
      logical :: any_active
      do i0 = 1, n, HOUR_CHUNK
         m = min(HOUR_CHUNK, n - i0 + 1)
         ! the chunk routines store results for non-icewater cells only: a chunk of icewater cells is skipped
         any_active = .false.
         do i = i0, i0 + m - 1
            if (inint(cp(i, CP_IVT2)) /= 0) any_active = .true.
         end do
         if (.not. any_active) cycle
         if (any(mp(i0:i0 + m - 1, M_HET_MM) /= 0.0_dp) .or. &
             (icycle > 1 .and. any(mp(i0:i0 + m - 1, M_EXUD_DIAG) /= 0.0_dp))) then
            call mimics_hours_chunk_options(n, i0, m, icycle, mp, cp, q, mc, mn)
         else
            call mimics_hours_chunk(n, i0, m, icycle, mp, cp, q, mc, mn)
         end if
      end do
   end subroutine mimics_hours

   !> mimics_hours for the m <= HOUR_CHUNK cells i0 .. i0+m-1 (local arrays indexed
   !> k = i - i0 + 1). The hour-invariant products (litter inputs times fI, Km times
   !> KO, 1 - MGE, 1 - NUE) are formed once per day with the spec's expressions;
   !> every cell is computed and only non-icewater cells are stored back.
   subroutine mimics_hours_chunk(n, i0, m, icycle, mp, cp, q, mc, mn)
      integer, intent(in) :: n, i0, m, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(inout) :: q(n, NQ), mc(n, 7), mn(n, 7)
      integer :: i, k, h, j
      real(dp) :: hfrac
      real(dp), dimension(HOUR_CHUNK) :: im1, imf, is1, isf, jm1, jmf, js1, jsf, kor, kok
      real(dp), dimension(HOUR_CHUNK) :: cl_m, cl_s, cm_r, cm_k, cs_a, cs_c, cs_p, mr, mk
      real(dp), dimension(HOUR_CHUNK) :: nl_m, nl_s, nm_r, nm_k, ns_a, ns_c, ns_p, din
      real(dp), dimension(HOUR_CHUNK) :: chresp, csompin, ovr_day, ovk_day, nlitmin, nsmin, nsimm
      real(dp) :: omge(HOUR_CHUNK, 4), onue(HOUR_CHUNK, 4)
      logical :: active(HOUR_CHUNK), lin_dd(HOUR_CHUNK), all_lin
      real(dp) :: litmin1, litmin2, litmin3, litmin4, sommin1, sommin2
      real(dp) :: trn1, trn2, trn3, trn4, trn5, trn6, desorp, oxidat
      real(dp) :: litminn1, litminn2, litminn3, litminn4, somminn1, somminn2, rr, rk
      real(dp) :: trnn1, trnn2, trnn3, trnn4, trnn5, trnn6, desorpn, oxidatn
      real(dp) :: dinup_r, dinup_k, upc_r, upn_r, upc_k, upn_k, cnup_r, cnup_k
      real(dp) :: ovf_r, ovf_k, spill_r, spill_k
      real(dp) :: d_litm, d_lits, d_micr, d_mick, d_soma, d_somc, d_somp
      real(dp) :: d_litmn, d_litsn, d_micrn, d_mickn, d_soman, d_somcn, d_sompn, d_din
      ! the semi-analytic spin-up's flux sums (Q_SASU), in a loop of their own so that the hour's loops stay as they are
      logical :: son
      real(dp) :: sx(NSASU, HOUR_CHUNK)

      hfrac = 1.0_dp/real(NHOURS, dp)
      son = any(mp(i0:i0 + m - 1, M_SASU_DIAG) /= 0.0_dp)
      sx = 0.0_dp
      all_lin = .true.
      do k = 1, m
         i = i0 + k - 1
         active(k) = inint(cp(i, CP_IVT2)) /= 0
         ! pow(x, 1.0) == x exactly, so the linear case skips the libm call
         lin_dd(k) = (mp(i, M_DENSDEP) == 1.0_dp)
         if (active(k) .and. .not. lin_dd(k)) all_lin = .false.
      end do
      do k = 1, m
         i = i0 + k - 1
         im1(k) = (q(i, Q_CLITIN_MET)*hfrac)*(1.0_dp - mp(i, M_FI_MET))
         imf(k) = (q(i, Q_CLITIN_MET)*hfrac)*mp(i, M_FI_MET)
         is1(k) = (q(i, Q_CLITIN_STR)*hfrac)*(1.0_dp - mp(i, M_FI_STR))
         isf(k) = (q(i, Q_CLITIN_STR)*hfrac)*mp(i, M_FI_STR)
         jm1(k) = (q(i, Q_NLITIN_MET)*hfrac)*(1.0_dp - mp(i, M_FI_MET))
         jmf(k) = (q(i, Q_NLITIN_MET)*hfrac)*mp(i, M_FI_MET)
         js1(k) = (q(i, Q_NLITIN_STR)*hfrac)*(1.0_dp - mp(i, M_FI_STR))
         jsf(k) = (q(i, Q_NLITIN_STR)*hfrac)*mp(i, M_FI_STR)
         kok(k) = mp(i, M_KO + 1)*q(i, Q_KM + 4)
         kor(k) = mp(i, M_KO)*q(i, Q_KM + 1)
         cl_m(k) = mc(i, LITM); cl_s(k) = mc(i, LITS); cm_r(k) = mc(i, MICR); cm_k(k) = mc(i, MICK)
         cs_a(k) = mc(i, SOMA); cs_c(k) = mc(i, SOMC); cs_p(k) = mc(i, SOMP)
         nl_m(k) = mn(i, LITM); nl_s(k) = mn(i, LITS); nm_r(k) = mn(i, MICR); nm_k(k) = mn(i, MICK)
         ns_a(k) = mn(i, SOMA); ns_c(k) = mn(i, SOMC); ns_p(k) = mn(i, SOMP)
         din(k) = q(i, Q_DIN)
         chresp(k) = 0.0_dp; csompin(k) = 0.0_dp; ovr_day(k) = 0.0_dp; ovk_day(k) = 0.0_dp
         nlitmin(k) = 0.0_dp; nsmin(k) = 0.0_dp; nsimm(k) = 0.0_dp
      end do
      do j = 1, 4
         do k = 1, m
            i = i0 + k - 1
            omge(k, j) = 1.0_dp - mp(i, M_MGE + j - 1)
            onue(k, j) = 1.0_dp - mp(i, M_NUE + j - 1)
         end do
      end do

      do h = 1, NHOURS
         if (icycle > 1 .and. .not. all_lin) then
            do k = 1, m
               i = i0 + k - 1
               if (lin_dd(k)) then
                  mr(k) = cm_r(k)
                  mk(k) = cm_k(k)
               else
                  mr(k) = cm_r(k)**mp(i, M_DENSDEP)
                  mk(k) = cm_k(k)**mp(i, M_DENSDEP)
               end if
            end do
         else
            do k = 1, m
               i = i0 + k - 1
               mr(k) = cm_r(k)
               mk(k) = cm_k(k)
            end do
         end if
         if (son) then
            ! the same expressions as the loops below, from the same start-of-hour pools: the same fluxes
            do k = 1, m
               i = i0 + k - 1
               litmin1 = ((cm_r(k)*q(i, Q_VMAX))*cl_m(k))/(q(i, Q_KM) + cm_r(k))
               litmin2 = ((cm_r(k)*q(i, Q_VMAX + 1))*cl_s(k))/(q(i, Q_KM + 1) + cm_r(k))
               sommin1 = ((cm_r(k)*q(i, Q_VMAX + 2))*cs_a(k))/(q(i, Q_KM + 2) + cm_r(k))
               litmin3 = ((cm_k(k)*q(i, Q_VMAX + 3))*cl_m(k))/(q(i, Q_KM + 3) + cm_k(k))
               litmin4 = ((cm_k(k)*q(i, Q_VMAX + 4))*cl_s(k))/(q(i, Q_KM + 4) + cm_k(k))
               sommin2 = ((cm_k(k)*q(i, Q_VMAX + 5))*cs_a(k))/(q(i, Q_KM + 5) + cm_k(k))
               trn1 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FPHYS_R); trn2 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FCHEM_R)
               trn3 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FAVAL_R)
               trn4 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FPHYS_K); trn5 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FCHEM_K)
               trn6 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FAVAL_K)
               desorp = cs_p(k)*q(i, Q_DESORPTION)
               oxidat = ((cm_k(k)*q(i, Q_VMAX + 4))*cs_c(k))/(kok(k) + cm_k(k)) &
                        + ((cm_r(k)*q(i, Q_VMAX + 1))*cs_c(k))/(kor(k) + cm_r(k))
               call sasu_sums(sx(:, k), litmin1, litmin2, litmin3, litmin4, sommin1, sommin2, &
                              trn1, trn2, trn3, trn4, trn5, trn6, desorp, oxidat, 0.0_dp, 0.0_dp)
            end do
         end if
         if (icycle > 1) then
            do k = 1, m
               i = i0 + k - 1
               litmin1 = ((cm_r(k)*q(i, Q_VMAX))*cl_m(k))/(q(i, Q_KM) + cm_r(k))
               litmin2 = ((cm_r(k)*q(i, Q_VMAX + 1))*cl_s(k))/(q(i, Q_KM + 1) + cm_r(k))
               sommin1 = ((cm_r(k)*q(i, Q_VMAX + 2))*cs_a(k))/(q(i, Q_KM + 2) + cm_r(k))
               litmin3 = ((cm_k(k)*q(i, Q_VMAX + 3))*cl_m(k))/(q(i, Q_KM + 3) + cm_k(k))
               litmin4 = ((cm_k(k)*q(i, Q_VMAX + 4))*cl_s(k))/(q(i, Q_KM + 4) + cm_k(k))
               sommin2 = ((cm_k(k)*q(i, Q_VMAX + 5))*cs_a(k))/(q(i, Q_KM + 5) + cm_k(k))
               trn1 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FPHYS_R); trn2 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FCHEM_R)
               trn3 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FAVAL_R)
               trn4 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FPHYS_K); trn5 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FCHEM_K)
               trn6 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FAVAL_K)
               desorp = cs_p(k)*q(i, Q_DESORPTION)
               oxidat = ((cm_k(k)*q(i, Q_VMAX + 4))*cs_c(k))/(kok(k) + cm_k(k)) &
                        + ((cm_r(k)*q(i, Q_VMAX + 1))*cs_c(k))/(kor(k) + cm_r(k))

               litminn1 = (litmin1*nl_m(k))/(cl_m(k) + EPS10)
               litminn2 = (litmin2*nl_s(k))/(cl_s(k) + EPS10)
               litminn3 = (litmin3*nl_m(k))/(cl_m(k) + EPS10)
               litminn4 = (litmin4*nl_s(k))/(cl_s(k) + EPS10)
               somminn1 = (sommin1*ns_a(k))/(cs_a(k) + EPS10)
               somminn2 = (sommin2*ns_a(k))/(cs_a(k) + EPS10)
               rr = 1.0_dp/(cm_r(k) + EPS10)
               rk = 1.0_dp/(cm_k(k) + EPS10)
               trnn1 = (trn1*nm_r(k))*rr; trnn2 = (trn2*nm_r(k))*rr; trnn3 = (trn3*nm_r(k))*rr
               trnn4 = (trn4*nm_k(k))*rk; trnn5 = (trn5*nm_k(k))*rk; trnn6 = (trn6*nm_k(k))*rk
               desorpn = (desorp*ns_p(k))/(cs_p(k) + EPS10)
               oxidatn = (oxidat*ns_c(k))/(cs_c(k) + EPS10)
               dinup_r = (din(k)*cm_r(k))/(cm_r(k) + cm_k(k))
               dinup_k = (din(k)*cm_k(k))/(cm_r(k) + cm_k(k))
               upc_r = mp(i, M_MGE)*(litmin1 + sommin1) + mp(i, M_MGE + 1)*litmin2
               upn_r = (mp(i, M_NUE)*(litminn1 + somminn1) + mp(i, M_NUE + 1)*litminn2) + dinup_r
               upc_k = mp(i, M_MGE + 2)*(litmin3 + sommin2) + mp(i, M_MGE + 3)*litmin4
               upn_k = (mp(i, M_NUE + 2)*(litminn3 + somminn2) + mp(i, M_NUE + 3)*litminn4) + dinup_k
               cnup_r = upc_r/(upn_r + EPS10)
               cnup_k = upc_k/(upn_k + EPS10)
               ovf_r = upc_r - upn_r*min(q(i, Q_CN_R), cnup_r)
               spill_r = upn_r - upc_r/max(q(i, Q_CN_R), cnup_r)
               ovf_k = upc_k - upn_k*min(q(i, Q_CN_K), cnup_k)
               spill_k = upn_k - upc_k/max(q(i, Q_CN_K), cnup_k)
               ovr_day(k) = ovr_day(k) + ovf_r
               ovk_day(k) = ovk_day(k) + ovf_k

               d_litm = (im1(k) - litmin1) - litmin3
               d_micr = (upc_r - ((trn1 + trn2) + trn3)) - ovf_r
               d_somp = ((imf(k) + trn1) + trn4) - desorp
               d_lits = (is1(k) - litmin2) - litmin4
               d_mick = (upc_k - ((trn4 + trn5) + trn6)) - ovf_k
               d_somc = ((isf(k) + trn2) + trn5) - oxidat
               d_soma = ((((trn3 + trn6) + desorp) + oxidat) - sommin1) - sommin2

               d_litmn = (jm1(k) - litminn1) - litminn3
               d_micrn = (upn_r - ((trnn1 + trnn2) + trnn3)) - spill_r
               d_sompn = ((jmf(k) + trnn1) + trnn4) - desorpn
               d_litsn = (js1(k) - litminn2) - litminn4
               d_mickn = (upn_k - ((trnn4 + trnn5) + trnn6)) - spill_k
               d_somcn = ((jsf(k) + trnn2) + trnn5) - oxidatn
               d_soman = ((((trnn3 + trnn6) + desorpn) + oxidatn) - somminn1) - somminn2
               d_din = (((((((onue(k, 1)*(litminn1 + somminn1) + onue(k, 2)*litminn2) &
                             + onue(k, 3)*(litminn3 + somminn2)) + onue(k, 4)*litminn4) &
                           + spill_r) + spill_k) - dinup_r) - dinup_k)

               chresp(k) = ((((((chresp(k) + omge(k, 1)*(litmin1 + sommin1)) + omge(k, 2)*litmin2) &
                               + omge(k, 3)*(litmin3 + sommin2)) + omge(k, 4)*litmin4) + ovf_r) + ovf_k)
               nlitmin(k) = nlitmin(k) + q(i, Q_U)*(((onue(k, 1)*litminn1 + onue(k, 2)*litminn2) &
                                                     + onue(k, 3)*litminn3) + onue(k, 4)*litminn4)
               nsmin(k) = nsmin(k) + q(i, Q_U)*(onue(k, 1)*somminn1 + onue(k, 3)*somminn2)
               nsimm(k) = nsimm(k) - q(i, Q_U)*(((dinup_r + dinup_k) - spill_r) - spill_k)
               csompin(k) = ((csompin(k) + imf(k)) + trn1) + trn4

               cl_m(k) = cl_m(k) + d_litm; cl_s(k) = cl_s(k) + d_lits
               cm_r(k) = cm_r(k) + d_micr; cm_k(k) = cm_k(k) + d_mick
               cs_a(k) = cs_a(k) + d_soma; cs_c(k) = cs_c(k) + d_somc; cs_p(k) = cs_p(k) + d_somp
               nl_m(k) = nl_m(k) + d_litmn; nl_s(k) = nl_s(k) + d_litsn
               nm_r(k) = nm_r(k) + d_micrn; nm_k(k) = nm_k(k) + d_mickn
               ns_a(k) = ns_a(k) + d_soman; ns_c(k) = ns_c(k) + d_somcn; ns_p(k) = ns_p(k) + d_sompn
               din(k) = din(k) + d_din
            end do
         else
            do k = 1, m
               i = i0 + k - 1
               litmin1 = ((cm_r(k)*q(i, Q_VMAX))*cl_m(k))/(q(i, Q_KM) + cm_r(k))
               litmin2 = ((cm_r(k)*q(i, Q_VMAX + 1))*cl_s(k))/(q(i, Q_KM + 1) + cm_r(k))
               sommin1 = ((cm_r(k)*q(i, Q_VMAX + 2))*cs_a(k))/(q(i, Q_KM + 2) + cm_r(k))
               litmin3 = ((cm_k(k)*q(i, Q_VMAX + 3))*cl_m(k))/(q(i, Q_KM + 3) + cm_k(k))
               litmin4 = ((cm_k(k)*q(i, Q_VMAX + 4))*cl_s(k))/(q(i, Q_KM + 4) + cm_k(k))
               sommin2 = ((cm_k(k)*q(i, Q_VMAX + 5))*cs_a(k))/(q(i, Q_KM + 5) + cm_k(k))
               trn1 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FPHYS_R); trn2 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FCHEM_R)
               trn3 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FAVAL_R)
               trn4 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FPHYS_K); trn5 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FCHEM_K)
               trn6 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FAVAL_K)
               desorp = cs_p(k)*q(i, Q_DESORPTION)
               oxidat = ((cm_k(k)*q(i, Q_VMAX + 4))*cs_c(k))/(kok(k) + cm_k(k)) &
                        + ((cm_r(k)*q(i, Q_VMAX + 1))*cs_c(k))/(kor(k) + cm_r(k))

               d_litm = (im1(k) - litmin1) - litmin3
               d_micr = (mp(i, M_MGE)*(litmin1 + sommin1) + mp(i, M_MGE + 1)*litmin2) - ((trn1 + trn2) + trn3)
               d_somp = ((imf(k) + trn1) + trn4) - desorp
               d_lits = (is1(k) - litmin2) - litmin4
               d_mick = (mp(i, M_MGE + 2)*(litmin3 + sommin2) + mp(i, M_MGE + 3)*litmin4) - ((trn4 + trn5) + trn6)
               d_somc = ((isf(k) + trn2) + trn5) - oxidat
               d_soma = ((((trn3 + trn6) + desorp) + oxidat) - sommin1) - sommin2
               chresp(k) = ((((chresp(k) + omge(k, 1)*(litmin1 + sommin1)) + omge(k, 2)*litmin2) &
                             + omge(k, 3)*(litmin3 + sommin2)) + omge(k, 4)*litmin4)
               csompin(k) = ((csompin(k) + imf(k)) + trn1) + trn4

               cl_m(k) = cl_m(k) + d_litm; cl_s(k) = cl_s(k) + d_lits
               cm_r(k) = cm_r(k) + d_micr; cm_k(k) = cm_k(k) + d_mick
               cs_a(k) = cs_a(k) + d_soma; cs_c(k) = cs_c(k) + d_somc; cs_p(k) = cs_p(k) + d_somp
            end do
         end if
      end do

      do k = 1, m
         i = i0 + k - 1
         if (.not. active(k)) cycle
         mc(i, LITM) = cl_m(k); mc(i, LITS) = cl_s(k); mc(i, MICR) = cm_r(k); mc(i, MICK) = cm_k(k)
         mc(i, SOMA) = cs_a(k); mc(i, SOMC) = cs_c(k); mc(i, SOMP) = cs_p(k)
         q(i, Q_CHRESP) = chresp(k)
         q(i, Q_CSOMPIN) = csompin(k)
         if (son) then  ! the overflow respiration: the day's sums below
            q(i, Q_SASU:Q_SASU + NSASU - 1) = sx(:, k)
            q(i, Q_SASU + SX_OVF) = ovr_day(k)
            q(i, Q_SASU + SX_OVF + 1) = ovk_day(k)
         end if
         if (icycle > 1) then
            mn(i, LITM) = nl_m(k); mn(i, LITS) = nl_s(k); mn(i, MICR) = nm_r(k); mn(i, MICK) = nm_k(k)
            mn(i, SOMA) = ns_a(k); mn(i, SOMC) = ns_c(k); mn(i, SOMP) = ns_p(k)
            q(i, Q_DIN) = din(k)
            q(i, Q_OVERFLOW_R) = ovr_day(k); q(i, Q_OVERFLOW_K) = ovk_day(k)
            q(i, Q_NLITTERMIN) = nlitmin(k); q(i, Q_NSMIN) = nsmin(k); q(i, Q_NSIMM) = nsimm(k)
         end if
      end do
   end subroutine mimics_hours_chunk

   !> mimics_hours_chunk for a chunk with a het_mm cell (sub-grid heterogeneity, seed_processes.md 3) or, in a
   !> C+N run, root exudation or its microbial diagnostics (seed_processes.md 1.3, 1.6): the same hourly
   !> arithmetic with the Vmax of the eight Michaelis-Menten fluxes times the hour's factors (mimics_hour_phi),
   !> the turnover times its factor, and the exudate uptake. A copy of its own, so that the hourly loop of every
   !> other chunk compiles to exactly the code it had without the options (docs/moisture_heterogeneity.md,
   !> "Off-path cost"); keep the two loop bodies in step (tests H1/H2 and E1 run this copy with the options at
   !> zero and require bit-identical results to mimics_hours_chunk).
   subroutine mimics_hours_chunk_options(n, i0, m, icycle, mp, cp, q, mc, mn)
      integer, intent(in) :: n, i0, m, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP)
      real(dp), intent(inout) :: q(n, NQ), mc(n, 7), mn(n, 7)
      integer :: i, k, h, j
      real(dp) :: hfrac
      real(dp), dimension(HOUR_CHUNK) :: im1, imf, is1, isf, jm1, jmf, js1, jsf, kor, kok
      real(dp), dimension(HOUR_CHUNK) :: cl_m, cl_s, cm_r, cm_k, cs_a, cs_c, cs_p, mr, mk
      real(dp), dimension(HOUR_CHUNK) :: nl_m, nl_s, nm_r, nm_k, ns_a, ns_c, ns_p, din
      real(dp), dimension(HOUR_CHUNK) :: chresp, csompin, ovr_day, ovk_day, nlitmin, nsmin, nsimm
      real(dp) :: omge(HOUR_CHUNK, 4), onue(HOUR_CHUNK, 4), vm(HOUR_CHUNK, 8), phit(HOUR_CHUNK, 2), nclamp(HOUR_CHUNK)
      logical :: active(HOUR_CHUNK), lin_dd(HOUR_CHUNK), all_lin, het(HOUR_CHUNK), any_het
      real(dp) :: litmin1, litmin2, litmin3, litmin4, sommin1, sommin2
      real(dp) :: trn1, trn2, trn3, trn4, trn5, trn6, desorp, oxidat
      real(dp) :: litminn1, litminn2, litminn3, litminn4, somminn1, somminn2, rr, rk
      real(dp) :: trnn1, trnn2, trnn3, trnn4, trnn5, trnn6, desorpn, oxidatn
      real(dp) :: dinup_r, dinup_k, upc_r, upn_r, upc_k, upn_k, cnup_r, cnup_k
      real(dp) :: ovf_r, ovf_k, spill_r, spill_k
      real(dp) :: d_litm, d_lits, d_micr, d_mick, d_soma, d_somc, d_somp
      real(dp) :: d_litmn, d_litsn, d_micrn, d_mickn, d_soman, d_somcn, d_sompn, d_din
      ! root exudation route 1 and the microbial diagnostics (seed_processes.md 1.3, 1.6)
      logical :: xon
      real(dp), dimension(HOUR_CHUNK) :: xc, xn, mgex_r, mgex_k, nuex, omgex_r, omgex_k, onuex
      real(dp), dimension(HOUR_CHUNK) :: xup, up_r, up_k, rs_r, rs_k, nec_p, nec_c, nec_a, necn_p, necn_c, necn_a
      real(dp) :: sw, ex_r, ex_k, exn_r, exn_k, ex_lit, exn_lit
      ! the semi-analytic spin-up's flux sums (Q_SASU)
      logical :: son
      real(dp) :: sx(NSASU, HOUR_CHUNK)

      hfrac = 1.0_dp/real(NHOURS, dp)
      son = any(mp(i0:i0 + m - 1, M_SASU_DIAG) /= 0.0_dp)
      sx = 0.0_dp
      all_lin = .true.
      any_het = .false.
      nclamp = 0.0_dp
      do k = 1, m
         i = i0 + k - 1
         active(k) = inint(cp(i, CP_IVT2)) /= 0
         het(k) = active(k) .and. mp(i, M_HET_MM) /= 0.0_dp
         if (het(k)) any_het = .true.
         ! turnover M^beta: 1 + beta(beta - 1)CV^2/2 (3.1), in the CN step only (C-only turnover is linear)
         phit(k, :) = 1.0_dp
         if (het(k) .and. icycle > 1) then
            do j = 1, 2
               phit(k, j) = max(mp(i, M_PHI_MIN), 1.0_dp + ((0.5_dp*mp(i, M_DENSDEP))*(mp(i, M_DENSDEP) - 1.0_dp)) &
                                                    *(mp(i, M_CV + 1 + j)*mp(i, M_CV + 1 + j)))
            end do
         end if
         ! pow(x, 1.0) == x exactly, so the linear case skips the libm call
         lin_dd(k) = (mp(i, M_DENSDEP) == 1.0_dp)
         if (active(k) .and. .not. lin_dd(k)) all_lin = .false.
      end do
      do k = 1, m
         i = i0 + k - 1
         im1(k) = (q(i, Q_CLITIN_MET)*hfrac)*(1.0_dp - mp(i, M_FI_MET))
         imf(k) = (q(i, Q_CLITIN_MET)*hfrac)*mp(i, M_FI_MET)
         is1(k) = (q(i, Q_CLITIN_STR)*hfrac)*(1.0_dp - mp(i, M_FI_STR))
         isf(k) = (q(i, Q_CLITIN_STR)*hfrac)*mp(i, M_FI_STR)
         jm1(k) = (q(i, Q_NLITIN_MET)*hfrac)*(1.0_dp - mp(i, M_FI_MET))
         jmf(k) = (q(i, Q_NLITIN_MET)*hfrac)*mp(i, M_FI_MET)
         js1(k) = (q(i, Q_NLITIN_STR)*hfrac)*(1.0_dp - mp(i, M_FI_STR))
         jsf(k) = (q(i, Q_NLITIN_STR)*hfrac)*mp(i, M_FI_STR)
         ! the Vmax of the six uptakes and of OXIDAT by MICr, MICk; with het_mm times the hour's
         ! heterogeneity factor (mimics_hour_phi), else the day's values
         do j = 1, 6
            vm(k, j) = q(i, Q_VMAX + j - 1)
         end do
         vm(k, 7) = q(i, Q_VMAX + 1)
         vm(k, 8) = q(i, Q_VMAX + 4)
         kok(k) = mp(i, M_KO + 1)*q(i, Q_KM + 4)
         kor(k) = mp(i, M_KO)*q(i, Q_KM + 1)
         cl_m(k) = mc(i, LITM); cl_s(k) = mc(i, LITS); cm_r(k) = mc(i, MICR); cm_k(k) = mc(i, MICK)
         cs_a(k) = mc(i, SOMA); cs_c(k) = mc(i, SOMC); cs_p(k) = mc(i, SOMP)
         nl_m(k) = mn(i, LITM); nl_s(k) = mn(i, LITS); nm_r(k) = mn(i, MICR); nm_k(k) = mn(i, MICK)
         ns_a(k) = mn(i, SOMA); ns_c(k) = mn(i, SOMC); ns_p(k) = mn(i, SOMP)
         din(k) = q(i, Q_DIN)
         chresp(k) = 0.0_dp; csompin(k) = 0.0_dp; ovr_day(k) = 0.0_dp; ovk_day(k) = 0.0_dp
         nlitmin(k) = 0.0_dp; nsmin(k) = 0.0_dp; nsimm(k) = 0.0_dp
      end do
      do j = 1, 4
         do k = 1, m
            i = i0 + k - 1
            omge(k, j) = 1.0_dp - mp(i, M_MGE + j - 1)
            onue(k, j) = 1.0_dp - mp(i, M_NUE + j - 1)
         end do
      end do
      xon = icycle > 1 .and. any(mp(i0:i0 + m - 1, M_EXUD_DIAG) /= 0.0_dp)
      if (xon) then
         do k = 1, m
            i = i0 + k - 1
            xc(k) = q(i, Q_EXC)*hfrac
            xn(k) = q(i, Q_EXN)*hfrac
            mgex_r(k) = mp(i, M_EXUD_MGE)
            mgex_k(k) = mp(i, M_EXUD_MGE + 1)
            nuex(k) = mp(i, M_EXUD_NUE)
            omgex_r(k) = 1.0_dp - mgex_r(k)
            omgex_k(k) = 1.0_dp - mgex_k(k)
            onuex(k) = 1.0_dp - nuex(k)
         end do
         xup = 0.0_dp; up_r = 0.0_dp; up_k = 0.0_dp; rs_r = 0.0_dp; rs_k = 0.0_dp
         nec_p = 0.0_dp; nec_c = 0.0_dp; nec_a = 0.0_dp; necn_p = 0.0_dp; necn_c = 0.0_dp; necn_a = 0.0_dp
      else
         xc = 0.0_dp; xn = 0.0_dp; mgex_r = 0.0_dp; mgex_k = 0.0_dp; nuex = 0.0_dp
         omgex_r = 0.0_dp; omgex_k = 0.0_dp; onuex = 0.0_dp
         xup = 0.0_dp; up_r = 0.0_dp; up_k = 0.0_dp; rs_r = 0.0_dp; rs_k = 0.0_dp
         nec_p = 0.0_dp; nec_c = 0.0_dp; nec_a = 0.0_dp; necn_p = 0.0_dp; necn_c = 0.0_dp; necn_a = 0.0_dp
      end if

      do h = 1, NHOURS
         if (any_het) call mimics_hour_phi(n, i0, m, mp, q, het, cm_r, cm_k, kor, kok, vm, nclamp)
         if (icycle > 1 .and. .not. all_lin) then
            do k = 1, m
               i = i0 + k - 1
               if (lin_dd(k)) then
                  mr(k) = cm_r(k)
                  mk(k) = cm_k(k)
               else
                  mr(k) = cm_r(k)**mp(i, M_DENSDEP)
                  mk(k) = cm_k(k)**mp(i, M_DENSDEP)
               end if
            end do
         else
            do k = 1, m
               i = i0 + k - 1
               mr(k) = cm_r(k)
               mk(k) = cm_k(k)
            end do
         end if
         if (any_het .and. icycle > 1) then
            do k = 1, m
               if (.not. het(k)) cycle
               mr(k) = mr(k)*phit(k, 1)
               mk(k) = mk(k)*phit(k, 2)
            end do
         end if
         if (icycle > 1) then
            ! the CN step with root exudation route 1 (seed_processes.md 1.3) and the microbial diagnostics (1.6);
            ! without exudate (xc = xn = 0, zero efficiencies) the extra terms are exact zeros (tests H1, H2, E1)
            do k = 1, m
               i = i0 + k - 1
               litmin1 = ((cm_r(k)*vm(k, 1))*cl_m(k))/(q(i, Q_KM) + cm_r(k))
               litmin2 = ((cm_r(k)*vm(k, 2))*cl_s(k))/(q(i, Q_KM + 1) + cm_r(k))
               sommin1 = ((cm_r(k)*vm(k, 3))*cs_a(k))/(q(i, Q_KM + 2) + cm_r(k))
               litmin3 = ((cm_k(k)*vm(k, 4))*cl_m(k))/(q(i, Q_KM + 3) + cm_k(k))
               litmin4 = ((cm_k(k)*vm(k, 5))*cl_s(k))/(q(i, Q_KM + 4) + cm_k(k))
               sommin2 = ((cm_k(k)*vm(k, 6))*cs_a(k))/(q(i, Q_KM + 5) + cm_k(k))
               trn1 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FPHYS_R); trn2 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FCHEM_R)
               trn3 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FAVAL_R)
               trn4 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FPHYS_K); trn5 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FCHEM_K)
               trn6 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FAVAL_K)
               desorp = cs_p(k)*q(i, Q_DESORPTION)
               oxidat = ((cm_k(k)*vm(k, 8))*cs_c(k))/(kok(k) + cm_k(k)) &
                        + ((cm_r(k)*vm(k, 7))*cs_c(k))/(kor(k) + cm_r(k))

               litminn1 = (litmin1*nl_m(k))/(cl_m(k) + EPS10)
               litminn2 = (litmin2*nl_s(k))/(cl_s(k) + EPS10)
               litminn3 = (litmin3*nl_m(k))/(cl_m(k) + EPS10)
               litminn4 = (litmin4*nl_s(k))/(cl_s(k) + EPS10)
               somminn1 = (sommin1*ns_a(k))/(cs_a(k) + EPS10)
               somminn2 = (sommin2*ns_a(k))/(cs_a(k) + EPS10)
               rr = 1.0_dp/(cm_r(k) + EPS10)
               rk = 1.0_dp/(cm_k(k) + EPS10)
               trnn1 = (trn1*nm_r(k))*rr; trnn2 = (trn2*nm_r(k))*rr; trnn3 = (trn3*nm_r(k))*rr
               trnn4 = (trn4*nm_k(k))*rk; trnn5 = (trn5*nm_k(k))*rk; trnn6 = (trn6*nm_k(k))*rk
               desorpn = (desorp*ns_p(k))/(cs_p(k) + EPS10)
               oxidatn = (oxidat*ns_c(k))/(cs_c(k) + EPS10)
               dinup_r = (din(k)*cm_r(k))/(cm_r(k) + cm_k(k))
               dinup_k = (din(k)*cm_k(k))/(cm_r(k) + cm_k(k))
               ! route 1: direct uptake split by biomass as DIN (into LITm if there is no biomass)
               sw = cm_r(k) + cm_k(k)
               if (sw > 0.0_dp) then
                  ex_r = (xc(k)*cm_r(k))/sw; ex_k = (xc(k)*cm_k(k))/sw
                  exn_r = (xn(k)*cm_r(k))/sw; exn_k = (xn(k)*cm_k(k))/sw
                  ex_lit = 0.0_dp; exn_lit = 0.0_dp
               else
                  ex_r = 0.0_dp; ex_k = 0.0_dp; exn_r = 0.0_dp; exn_k = 0.0_dp
                  ex_lit = xc(k); exn_lit = xn(k)
               end if
               upc_r = (mp(i, M_MGE)*(litmin1 + sommin1) + mp(i, M_MGE + 1)*litmin2) + mgex_r(k)*ex_r
               upn_r = ((mp(i, M_NUE)*(litminn1 + somminn1) + mp(i, M_NUE + 1)*litminn2) + dinup_r) + nuex(k)*exn_r
               upc_k = (mp(i, M_MGE + 2)*(litmin3 + sommin2) + mp(i, M_MGE + 3)*litmin4) + mgex_k(k)*ex_k
               upn_k = ((mp(i, M_NUE + 2)*(litminn3 + somminn2) + mp(i, M_NUE + 3)*litminn4) + dinup_k) &
                       + nuex(k)*exn_k
               cnup_r = upc_r/(upn_r + EPS10)
               cnup_k = upc_k/(upn_k + EPS10)
               ovf_r = upc_r - upn_r*min(q(i, Q_CN_R), cnup_r)
               spill_r = upn_r - upc_r/max(q(i, Q_CN_R), cnup_r)
               ovf_k = upc_k - upn_k*min(q(i, Q_CN_K), cnup_k)
               spill_k = upn_k - upc_k/max(q(i, Q_CN_K), cnup_k)
               ovr_day(k) = ovr_day(k) + ovf_r
               ovk_day(k) = ovk_day(k) + ovf_k

               d_litm = ((im1(k) - litmin1) - litmin3) + ex_lit
               d_micr = (upc_r - ((trn1 + trn2) + trn3)) - ovf_r
               d_somp = ((imf(k) + trn1) + trn4) - desorp
               d_lits = (is1(k) - litmin2) - litmin4
               d_mick = (upc_k - ((trn4 + trn5) + trn6)) - ovf_k
               d_somc = ((isf(k) + trn2) + trn5) - oxidat
               d_soma = ((((trn3 + trn6) + desorp) + oxidat) - sommin1) - sommin2

               d_litmn = ((jm1(k) - litminn1) - litminn3) + exn_lit
               d_micrn = (upn_r - ((trnn1 + trnn2) + trnn3)) - spill_r
               d_sompn = ((jmf(k) + trnn1) + trnn4) - desorpn
               d_litsn = (js1(k) - litminn2) - litminn4
               d_mickn = (upn_k - ((trnn4 + trnn5) + trnn6)) - spill_k
               d_somcn = ((jsf(k) + trnn2) + trnn5) - oxidatn
               d_soman = ((((trnn3 + trnn6) + desorpn) + oxidatn) - somminn1) - somminn2
               d_din = (((((((onue(k, 1)*(litminn1 + somminn1) + onue(k, 2)*litminn2) &
                             + onue(k, 3)*(litminn3 + somminn2)) + onue(k, 4)*litminn4) &
                           + spill_r) + spill_k) - dinup_r) - dinup_k) + onuex(k)*(exn_r + exn_k)

               chresp(k) = ((((((chresp(k) + omge(k, 1)*(litmin1 + sommin1)) + omge(k, 2)*litmin2) &
                               + omge(k, 3)*(litmin3 + sommin2)) + omge(k, 4)*litmin4) + ovf_r) + ovf_k) &
                         + (omgex_r(k)*ex_r + omgex_k(k)*ex_k)
               nlitmin(k) = nlitmin(k) + q(i, Q_U)*(((onue(k, 1)*litminn1 + onue(k, 2)*litminn2) &
                                                     + onue(k, 3)*litminn3) + onue(k, 4)*litminn4) &
                            + q(i, Q_U)*(onuex(k)*(exn_r + exn_k))
               nsmin(k) = nsmin(k) + q(i, Q_U)*(onue(k, 1)*somminn1 + onue(k, 3)*somminn2)
               nsimm(k) = nsimm(k) - q(i, Q_U)*(((dinup_r + dinup_k) - spill_r) - spill_k)
               csompin(k) = ((csompin(k) + imf(k)) + trn1) + trn4
               ! microbial diagnostics (1.6): gross uptake, respiration (growth + overflow), necromass
               xup(k) = xup(k) + (ex_r + ex_k)
               up_r(k) = up_r(k) + (((litmin1 + sommin1) + litmin2) + ex_r)
               up_k(k) = up_k(k) + (((litmin3 + sommin2) + litmin4) + ex_k)
               rs_r(k) = rs_r(k) + (((omge(k, 1)*(litmin1 + sommin1) + omge(k, 2)*litmin2) + omgex_r(k)*ex_r) + ovf_r)
               rs_k(k) = rs_k(k) + (((omge(k, 3)*(litmin3 + sommin2) + omge(k, 4)*litmin4) + omgex_k(k)*ex_k) + ovf_k)
               nec_p(k) = nec_p(k) + (trn1 + trn4); nec_c(k) = nec_c(k) + (trn2 + trn5)
               nec_a(k) = nec_a(k) + (trn3 + trn6)
               necn_p(k) = necn_p(k) + (trnn1 + trnn4); necn_c(k) = necn_c(k) + (trnn2 + trnn5)
               necn_a(k) = necn_a(k) + (trnn3 + trnn6)
               if (son) call sasu_sums(sx(:, k), litmin1, litmin2, litmin3, litmin4, sommin1, sommin2, &
                                       trn1, trn2, trn3, trn4, trn5, trn6, desorp, oxidat, ovf_r, ovf_k)

               cl_m(k) = cl_m(k) + d_litm; cl_s(k) = cl_s(k) + d_lits
               cm_r(k) = cm_r(k) + d_micr; cm_k(k) = cm_k(k) + d_mick
               cs_a(k) = cs_a(k) + d_soma; cs_c(k) = cs_c(k) + d_somc; cs_p(k) = cs_p(k) + d_somp
               nl_m(k) = nl_m(k) + d_litmn; nl_s(k) = nl_s(k) + d_litsn
               nm_r(k) = nm_r(k) + d_micrn; nm_k(k) = nm_k(k) + d_mickn
               ns_a(k) = ns_a(k) + d_soman; ns_c(k) = ns_c(k) + d_somcn; ns_p(k) = ns_p(k) + d_sompn
               din(k) = din(k) + d_din
            end do
         else
            do k = 1, m
               i = i0 + k - 1
               litmin1 = ((cm_r(k)*vm(k, 1))*cl_m(k))/(q(i, Q_KM) + cm_r(k))
               litmin2 = ((cm_r(k)*vm(k, 2))*cl_s(k))/(q(i, Q_KM + 1) + cm_r(k))
               sommin1 = ((cm_r(k)*vm(k, 3))*cs_a(k))/(q(i, Q_KM + 2) + cm_r(k))
               litmin3 = ((cm_k(k)*vm(k, 4))*cl_m(k))/(q(i, Q_KM + 3) + cm_k(k))
               litmin4 = ((cm_k(k)*vm(k, 5))*cl_s(k))/(q(i, Q_KM + 4) + cm_k(k))
               sommin2 = ((cm_k(k)*vm(k, 6))*cs_a(k))/(q(i, Q_KM + 5) + cm_k(k))
               trn1 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FPHYS_R); trn2 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FCHEM_R)
               trn3 = (mr(k)*q(i, Q_TAUR))*q(i, Q_FAVAL_R)
               trn4 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FPHYS_K); trn5 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FCHEM_K)
               trn6 = (mk(k)*q(i, Q_TAUK))*q(i, Q_FAVAL_K)
               desorp = cs_p(k)*q(i, Q_DESORPTION)
               oxidat = ((cm_k(k)*vm(k, 8))*cs_c(k))/(kok(k) + cm_k(k)) &
                        + ((cm_r(k)*vm(k, 7))*cs_c(k))/(kor(k) + cm_r(k))

               d_litm = (im1(k) - litmin1) - litmin3
               d_micr = (mp(i, M_MGE)*(litmin1 + sommin1) + mp(i, M_MGE + 1)*litmin2) - ((trn1 + trn2) + trn3)
               d_somp = ((imf(k) + trn1) + trn4) - desorp
               d_lits = (is1(k) - litmin2) - litmin4
               d_mick = (mp(i, M_MGE + 2)*(litmin3 + sommin2) + mp(i, M_MGE + 3)*litmin4) - ((trn4 + trn5) + trn6)
               d_somc = ((isf(k) + trn2) + trn5) - oxidat
               d_soma = ((((trn3 + trn6) + desorp) + oxidat) - sommin1) - sommin2
               chresp(k) = ((((chresp(k) + omge(k, 1)*(litmin1 + sommin1)) + omge(k, 2)*litmin2) &
                             + omge(k, 3)*(litmin3 + sommin2)) + omge(k, 4)*litmin4)
               csompin(k) = ((csompin(k) + imf(k)) + trn1) + trn4
               if (son) call sasu_sums(sx(:, k), litmin1, litmin2, litmin3, litmin4, sommin1, sommin2, &
                                       trn1, trn2, trn3, trn4, trn5, trn6, desorp, oxidat, 0.0_dp, 0.0_dp)

               cl_m(k) = cl_m(k) + d_litm; cl_s(k) = cl_s(k) + d_lits
               cm_r(k) = cm_r(k) + d_micr; cm_k(k) = cm_k(k) + d_mick
               cs_a(k) = cs_a(k) + d_soma; cs_c(k) = cs_c(k) + d_somc; cs_p(k) = cs_p(k) + d_somp
            end do
         end if
      end do

      do k = 1, m
         i = i0 + k - 1
         if (.not. active(k)) cycle
         mc(i, LITM) = cl_m(k); mc(i, LITS) = cl_s(k); mc(i, MICR) = cm_r(k); mc(i, MICK) = cm_k(k)
         mc(i, SOMA) = cs_a(k); mc(i, SOMC) = cs_c(k); mc(i, SOMP) = cs_p(k)
         q(i, Q_CHRESP) = chresp(k)
         q(i, Q_CSOMPIN) = csompin(k)
         q(i, Q_HET_CLAMPED) = nclamp(k)
         if (icycle > 1) then
            mn(i, LITM) = nl_m(k); mn(i, LITS) = nl_s(k); mn(i, MICR) = nm_r(k); mn(i, MICK) = nm_k(k)
            mn(i, SOMA) = ns_a(k); mn(i, SOMC) = ns_c(k); mn(i, SOMP) = ns_p(k)
            q(i, Q_DIN) = din(k)
            q(i, Q_OVERFLOW_R) = ovr_day(k); q(i, Q_OVERFLOW_K) = ovk_day(k)
            q(i, Q_NLITTERMIN) = nlitmin(k); q(i, Q_NSMIN) = nsmin(k); q(i, Q_NSIMM) = nsimm(k)
         end if
         if (son) q(i, Q_SASU:Q_SASU + NSASU - 1) = sx(:, k)
         if (xon) then
            q(i, Q_EXUP) = xup(k)
            q(i, Q_UP_R) = up_r(k); q(i, Q_UP_K) = up_k(k); q(i, Q_RS_R) = rs_r(k); q(i, Q_RS_K) = rs_k(k)
            q(i, Q_NEC) = nec_p(k); q(i, Q_NEC + 1) = nec_c(k); q(i, Q_NEC + 2) = nec_a(k)
            q(i, Q_NECN) = necn_p(k); q(i, Q_NECN + 1) = necn_c(k); q(i, Q_NECN + 2) = necn_a(k)
         end if
      end do
   end subroutine mimics_hours_chunk_options

   !> Adds one hour's carbon fluxes between the pools to a cell's sums (Q_SASU order; diagnostics only).
   pure subroutine sasu_sums(sx, l1, l2, l3, l4, s1, s2, t1, t2, t3, t4, t5, t6, desorp, oxidat, ovf_r, ovf_k)
      real(dp), intent(inout) :: sx(NSASU)
      real(dp), intent(in) :: l1, l2, l3, l4, s1, s2, t1, t2, t3, t4, t5, t6, desorp, oxidat, ovf_r, ovf_k
      sx(1) = sx(1) + l1; sx(2) = sx(2) + l2; sx(3) = sx(3) + l3; sx(4) = sx(4) + l4
      sx(5) = sx(5) + s1; sx(6) = sx(6) + s2
      sx(7) = sx(7) + t1; sx(8) = sx(8) + t2; sx(9) = sx(9) + t3
      sx(10) = sx(10) + t4; sx(11) = sx(11) + t5; sx(12) = sx(12) + t6
      sx(13) = sx(13) + desorp; sx(14) = sx(14) + oxidat; sx(15) = sx(15) + ovf_r; sx(16) = sx(16) + ovf_k
   end subroutine sasu_sums

   !> The hour's heterogeneity factors of the het cells of a chunk from the start-of-hour pools
   !> (seed_processes.md 3.1, 3.2), each clamped at phi_min (counted in nclamp) and folded into vm: the six
   !> uptakes (K = Km_j) and OXIDAT by MICr, MICk (K = KO Km).
   subroutine mimics_hour_phi(n, i0, m, mp, q, het, cm_r, cm_k, kor, kok, vm, nclamp)
      integer, intent(in) :: n, i0, m
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), q(n, NQ)
      logical, intent(in) :: het(HOUR_CHUNK)
      real(dp), intent(in) :: cm_r(HOUR_CHUNK), cm_k(HOUR_CHUNK), kor(HOUR_CHUNK), kok(HOUR_CHUNK)
      real(dp), intent(inout) :: vm(HOUR_CHUNK, 8), nclamp(HOUR_CHUNK)
      integer, parameter :: VCOL(8) = [0, 1, 2, 3, 4, 5, 1, 4]
      integer :: k, i, j
      real(dp) :: cvr, cvk, phi(8)
      do k = 1, m
         if (.not. het(k)) cycle
         i = i0 + k - 1
         cvr = mp(i, M_CV + 2); cvk = mp(i, M_CV + 3)
         phi(1) = heterogeneity_mm(q(i, Q_KM), cm_r(k), mp(i, M_CV), cvr, mp(i, M_RHO))
         phi(2) = heterogeneity_mm(q(i, Q_KM + 1), cm_r(k), mp(i, M_CV + 1), cvr, mp(i, M_RHO + 1))
         phi(3) = heterogeneity_mm(q(i, Q_KM + 2), cm_r(k), mp(i, M_CV + 4), cvr, mp(i, M_RHO + 2))
         phi(4) = heterogeneity_mm(q(i, Q_KM + 3), cm_k(k), mp(i, M_CV), cvk, mp(i, M_RHO + 3))
         phi(5) = heterogeneity_mm(q(i, Q_KM + 4), cm_k(k), mp(i, M_CV + 1), cvk, mp(i, M_RHO + 4))
         phi(6) = heterogeneity_mm(q(i, Q_KM + 5), cm_k(k), mp(i, M_CV + 4), cvk, mp(i, M_RHO + 5))
         phi(7) = heterogeneity_mm(kor(k), cm_r(k), mp(i, M_CV + 5), cvr, mp(i, M_RHO_OX))
         phi(8) = heterogeneity_mm(kok(k), cm_k(k), mp(i, M_CV + 5), cvk, mp(i, M_RHO_OX + 1))
         if (mp(i, M_CV_VMAX) /= 0.0_dp) call add_vmax_terms()
         do j = 1, 8
            if (phi(j) < mp(i, M_PHI_MIN)) then
               phi(j) = mp(i, M_PHI_MIN)
               nclamp(k) = nclamp(k) + 1.0_dp
            end if
            vm(k, j) = q(i, Q_VMAX + VCOL(j))*phi(j)
         end do
      end do
   contains
      !> Vmax heterogeneity (CVV, its correlations with substrate and microbe; off when CVV = 0)
      subroutine add_vmax_terms()
         real(dp) :: cvv, rvs, rvm
         cvv = mp(i, M_CV_VMAX); rvs = mp(i, M_RHO_VMAX_S); rvm = mp(i, M_RHO_VMAX_M)
         phi(1) = phi(1) + heterogeneity_mm_vmax(q(i, Q_KM), cm_r(k), mp(i, M_CV), cvr, cvv, rvs, rvm)
         phi(2) = phi(2) + heterogeneity_mm_vmax(q(i, Q_KM + 1), cm_r(k), mp(i, M_CV + 1), cvr, cvv, rvs, rvm)
         phi(3) = phi(3) + heterogeneity_mm_vmax(q(i, Q_KM + 2), cm_r(k), mp(i, M_CV + 4), cvr, cvv, rvs, rvm)
         phi(4) = phi(4) + heterogeneity_mm_vmax(q(i, Q_KM + 3), cm_k(k), mp(i, M_CV), cvk, cvv, rvs, rvm)
         phi(5) = phi(5) + heterogeneity_mm_vmax(q(i, Q_KM + 4), cm_k(k), mp(i, M_CV + 1), cvk, cvv, rvs, rvm)
         phi(6) = phi(6) + heterogeneity_mm_vmax(q(i, Q_KM + 5), cm_k(k), mp(i, M_CV + 4), cvk, cvv, rvs, rvm)
         phi(7) = phi(7) + heterogeneity_mm_vmax(kor(k), cm_r(k), mp(i, M_CV + 5), cvr, cvv, rvs, rvm)
         phi(8) = phi(8) + heterogeneity_mm_vmax(kok(k), cm_k(k), mp(i, M_CV + 5), cvk, cvv, rvs, rvm)
      end subroutine add_vmax_terms
   end subroutine mimics_hour_phi

   ! ---------------------------------------------------------------------------
   !> 4.12, after the hours (CN): net mineralisation, gaseous loss and the
   !> mineral-N tendency. nsoilmin is the post-leaching pool; nupland the plant
   !> uptake; ndep the day's deposition.
   subroutine mimics_nbook(n, cp, tsoilavg, nsoilmin, ndep, nupland, q)
      integer, intent(in) :: n
      real(dp), intent(in) :: cp(n, NCP), tsoilavg(n), nsoilmin(n), ndep(n), nupland(n)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i
      real(dp) :: nsnet, nloss, dnmin
      do i = 1, n
         if (inint(cp(i, CP_IVT2)) == 0) cycle
         nsnet = (q(i, Q_NLITTERMIN) + q(i, Q_NSMIN)) + q(i, Q_NSIMM)
         if (nsoilmin(i) > 2.0_dp .and. tsoilavg(i) > 273.12_dp) then
            nloss = cp(i, CP_FNMINLOSS)*max(0.0_dp, nsnet)
         else
            nloss = (cp(i, CP_FNMINLOSS)*max(0.0_dp, nsnet))*max(0.0_dp, nsoilmin(i)/2.0_dp)
         end if
         dnmin = q(i, Q_U)*(q(i, Q_DIN) - q(i, Q_DINSTART))
         dnmin = (((dnmin + ndep(i)) + cp(i, CP_NMINFIX)) - nloss) - nupland(i)
         q(i, Q_NSNET) = nsnet
         q(i, Q_NMINLOSS) = nloss
         q(i, Q_DNSOILMINDT) = dnmin
      end do
   end subroutine mimics_nbook

   ! ---------------------------------------------------------------------------
   !> 4.13 the soil part of the daily CASA pool update (CWD and, CN, mineral N;
   !> the plant pools are updated by the vegetation day) and then the caccum
   !> step of 4.11 (Chresp += cwd2co2/u). Icewater cells are left unchanged.
   subroutine mimics_cycle(n, icycle, cp, q, clit_cwd, nlit_cwd, nsoilmin)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: cp(n, NCP)
      real(dp), intent(inout) :: q(n, NQ)
      real(dp), intent(inout) :: clit_cwd(n), nlit_cwd(n), nsoilmin(n)
      integer :: i
      do i = 1, n
         if (inint(cp(i, CP_IVT2)) == 0) cycle
         clit_cwd(i) = clit_cwd(i) + q(i, Q_DCLIT_CWD)*1.0_dp
         if (icycle > 1) then
            nlit_cwd(i) = nlit_cwd(i) + q(i, Q_DNLIT_CWD)*1.0_dp
            nsoilmin(i) = nsoilmin(i) + q(i, Q_DNSOILMINDT)*1.0_dp
         end if
         ! mimics_caccum: the daily Chresp includes the CWD respiration
         q(i, Q_CHRESP) = q(i, Q_CHRESP) + q(i, Q_CWD2CO2)/q(i, Q_U)
      end do
   end subroutine mimics_cycle

   ! ---------------------------------------------------------------------------
   !> Root exudation into MIMICS (seed_processes.md 1.3), after mimics_delplant, which took the exudate C
   !> that goes to LITm (cexlit) with the root litter. Route 0 adds the exudate N to the LITm N input;
   !> route 1 (C+N runs) sends the share fHMW to LITm and the rest to direct microbial uptake
   !> (Q_EXC, Q_EXN, mg cm-3 d-1, taken up hour by hour in mimics_hours_chunk).
   subroutine mimics_exudate_inputs(n, icycle, mp, cp, cexud, nexud, q)
      integer, intent(in) :: n, icycle
      real(dp), intent(in) :: mp(n, NMIMICSPARAM), cp(n, NCP), cexud(n), nexud(n)
      real(dp), intent(inout) :: q(n, NQ)
      integer :: i
      real(dp) :: nlit, d
      do i = 1, n
         q(i, Q_EXC) = 0.0_dp
         q(i, Q_EXN) = 0.0_dp
         if (inint(cp(i, CP_IVT2)) == 0 .or. icycle < 2) cycle
         d = q(i, Q_DEPTH)
         nlit = nexud(i)
         if (mp(i, M_EXUD_ROUTE) /= 0.0_dp) then
            nlit = mp(i, M_EXUD_FHMW)*nexud(i)
            q(i, Q_EXC) = (((1.0_dp - mp(i, M_EXUD_FHMW))*cexud(i))*0.1_dp)/d
            q(i, Q_EXN) = (((1.0_dp - mp(i, M_EXUD_FHMW))*nexud(i))*0.1_dp)/d
         end if
         q(i, Q_NLITIN_MET) = q(i, Q_NLITIN_MET) + (nlit*0.1_dp)/d
         q(i, Q_NLITINPT_MET) = q(i, Q_NLITINPT_MET) + nlit
      end do
   end subroutine mimics_exudate_inputs

end module mimics_soil
