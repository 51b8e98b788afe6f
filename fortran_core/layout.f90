!> Column layout of the arrays that cross the Python/Fortran boundary.
!>
!> Every array is (ncell, ncolumn) with cells as the fastest dimension, so that a
!> column is contiguous and the per-cell loops vectorise. testbed/layout.py mirrors
!> these names; tests/test_layout.py checks that the two agree.
module tb_layout
   implicit none
   private

   ! ---------------------------------------------------------------- model state
   ! CASA pools in g m-2; MIMICS pools in mg cm-3 of soil over the depth D (as in
   ! the original's restart files); phase is the phenology phase (0..3) as a real.
   integer, parameter, public :: S_CLEAF = 1, S_CWOOD = 2, S_CFROOT = 3
   integer, parameter, public :: S_NLEAF = 4, S_NWOOD = 5, S_NFROOT = 6
   integer, parameter, public :: S_PLEAF = 7, S_PWOOD = 8, S_PFROOT = 9
   integer, parameter, public :: S_CLABILE = 10
   integer, parameter, public :: S_CMET = 11, S_CSTR = 12, S_CCWD = 13
   integer, parameter, public :: S_NMET = 14, S_NSTR = 15, S_NCWD = 16
   integer, parameter, public :: S_CMIC = 17, S_CSLOW = 18, S_CPASS = 19
   integer, parameter, public :: S_NMIC = 20, S_NSLOW = 21, S_NPASS = 22
   integer, parameter, public :: S_NSOILMIN = 23, S_LAI = 24, S_PHASE = 25
   integer, parameter, public :: S_LITM = 26, S_LITS = 27, S_MICR = 28, S_MICK = 29
   integer, parameter, public :: S_SOMA = 30, S_SOMC = 31, S_SOMP = 32
   integer, parameter, public :: S_LITMN = 33, S_LITSN = 34, S_MICRN = 35, S_MICKN = 36
   integer, parameter, public :: S_SOMAN = 37, S_SOMCN = 38, S_SOMPN = 39
   !> previous year's NPP (gC m-2 yr-1) used by MIMICS tauMod ("CnppAn")
   integer, parameter, public :: S_NPP_PREV = 40
   integer, parameter, public :: NSTATE = 40

   ! ------------------------------------------------- CASA per-cell parameters
   ! Raw values from the PFT table (gathered by PFT in Python), soil texture and
   ! phenology dates. Units as in the original's pftlookup file (ages in years,
   ! rates per year); the kernel derives the per-day values (spec casa.md 5.2).
   integer, parameter, public :: P_IVT2 = 1, P_IVEG = 2
   integer, parameter, public :: P_KROOT = 3, P_ROOTDEPTH = 4, P_KMINN = 5, P_FRACHERB = 6
   integer, parameter, public :: P_AGE_LEAF = 7, P_AGE_WOOD = 8, P_AGE_FROOT = 9
   integer, parameter, public :: P_AGE_MET = 10, P_AGE_STR = 11, P_AGE_CWD = 12
   integer, parameter, public :: P_AGE_MIC = 13, P_AGE_SLOW = 14, P_AGE_PASS = 15
   integer, parameter, public :: P_AGE_CLABILE = 16, P_SLA = 17
   integer, parameter, public :: P_CALLOC_LEAF = 18, P_CALLOC_WOOD = 19, P_CALLOC_FROOT = 20
   integer, parameter, public :: P_RM_WOOD = 21, P_RM_FROOT = 22, P_RM_LEAF = 23
   integer, parameter, public :: P_CN_LEAF = 24, P_CN_WOOD = 25, P_CN_FROOT = 26
   integer, parameter, public :: P_FTRANS_LEAF = 27, P_FTRANS_WOOD = 28, P_FTRANS_FROOT = 29
   integer, parameter, public :: P_LIG_LEAF = 30, P_LIG_WOOD = 31, P_LIG_FROOT = 32
   integer, parameter, public :: P_CN_MIC = 33, P_CN_SLOW = 34, P_CN_PASS = 35
   integer, parameter, public :: P_CNMIN_MIC = 36, P_CNMIN_SLOW = 37, P_CNMIN_PASS = 38
   integer, parameter, public :: P_CNMAX_MIC = 39, P_CNMAX_SLOW = 40, P_CNMAX_PASS = 41
   integer, parameter, public :: P_LAIMAX = 42, P_LAIMIN = 43
   integer, parameter, public :: P_TKSHED = 44, P_XKLEAFCOLDMAX = 45, P_XKLEAFCOLDEXP = 46
   integer, parameter, public :: P_XKLEAFDRYMAX = 47, P_XKLEAFDRYEXP = 48
   integer, parameter, public :: P_NC_LEAF_MIN = 49, P_NC_LEAF_MAX = 50
   integer, parameter, public :: P_NC_WOOD_MIN = 51, P_NC_WOOD_MAX = 52
   integer, parameter, public :: P_NC_FROOT_MIN = 53, P_NC_FROOT_MAX = 54
   integer, parameter, public :: P_XNMINLOSS = 55, P_XNLEACH = 56, P_NFIXRATE = 57
   integer, parameter, public :: P_NP_LEAF_MIN = 58, P_NP_WOOD_MIN = 59, P_NP_FROOT_MIN = 60
   integer, parameter, public :: P_Q10SOIL = 61, P_XKOPTLITTER = 62, P_XKOPTSOIL = 63
   integer, parameter, public :: P_MAXFINELITTER = 64, P_MAXCWD = 65
   integer, parameter, public :: P_XKNLIMITMIN = 66, P_XKNLIMITMAX = 67, P_FRACROOTEXUD = 68
   integer, parameter, public :: P_CUE_METB_MIC = 69, P_CUE_STR_MIC = 70, P_CUE_STR_SLOW = 71
   integer, parameter, public :: P_CUE_CWD_MIC = 72, P_CUE_CWD_SLOW = 73
   integer, parameter, public :: P_CUE_MIC_SLOW = 74, P_CUE_MIC_PASS = 75, P_CUE_PASS_SLOW = 76
   integer, parameter, public :: P_CLAY = 77, P_SILT = 78, P_SWILT = 79, P_SFC = 80, P_SSAT = 81
   !> phenology table day of year of green-up and of leaf fall (-50 and 367 for
   !> types without seasonal phenology); the kernel derives d1..d4 (casa.md 2.5)
   integer, parameter, public :: P_GREENUP = 82, P_FALL = 83
   !> table litter N:C (N_table / (C_table + 1e-10)), used only by the restart-write reset (Q5)
   integer, parameter, public :: P_NCLITTER_MET = 84, P_NCLITTER_STR = 85, P_NCLITTER_CWD = 86
   integer, parameter, public :: NCASAPARAM = 86

   ! ----------------------------------------------- MIMICS per-cell parameters
   ! Columns 1..93 are the "Fixed Parameters" of the MIMICS parameter file in
   ! file order (spec mimics.md 6.1), then the PFT soil depth and fWFunction.
   integer, parameter, public :: M_VSLOPE = 1    ! 1..6   (r1,r2,r3,k1,k2,k3)
   integer, parameter, public :: M_VINT = 7      ! 7..12
   integer, parameter, public :: M_AV = 13       ! 13..18
   integer, parameter, public :: M_KSLOPE = 19   ! 19..24
   integer, parameter, public :: M_KINT = 25     ! 25..30
   integer, parameter, public :: M_AK = 31       ! 31..36
   integer, parameter, public :: M_VMOD = 37     ! 37..42
   integer, parameter, public :: M_KMOD = 43     ! 43..48
   integer, parameter, public :: M_KO = 49       ! 49..50
   integer, parameter, public :: M_MGE = 51      ! 51..54
   integer, parameter, public :: M_TAU_R = 55    ! 55..56
   integer, parameter, public :: M_TAU_K = 57    ! 57..58
   integer, parameter, public :: M_TAUMOD_DENOM = 59, M_TAUMOD_MIN = 60, M_TAUMOD_MAX = 61
   integer, parameter, public :: M_FPHYS_R = 62  ! 62..63
   integer, parameter, public :: M_FPHYS_K = 64  ! 64..65
   integer, parameter, public :: M_FCHEM_R = 66  ! 66..68
   integer, parameter, public :: M_FCHEM_K = 69  ! 69..71
   integer, parameter, public :: M_FSOM_P = 72   ! 72..73
   integer, parameter, public :: M_PHYS_SCALAR = 74 ! 74..75
   integer, parameter, public :: M_FI_MET = 76, M_FI_STR = 77
   integer, parameter, public :: M_FMET_P = 78   ! 78..80
   integer, parameter, public :: M_DENSDEP = 81
   integer, parameter, public :: M_FRACNIMPORT_R = 82, M_FRACNIMPORT_K = 83
   integer, parameter, public :: M_NUE = 84      ! 84..87
   integer, parameter, public :: M_CNR = 88, M_CNK = 89, M_FRACDINAVAILMIC = 90
   integer, parameter, public :: M_CNMODNUM = 91, M_DESORPQ10 = 92, M_DESORPTREF = 93
   integer, parameter, public :: M_DEPTH = 94, M_FWFUNCTION = 95
   integer, parameter, public :: NMIMICSPARAM = 95

   ! ------------------------------------------- daily / annual diagnostics
   ! Pools are end-of-day values (MIMICS pools converted to g m-2); fluxes are
   ! the day's values in g m-2 d-1. The annual array holds the sum over the days.
   integer, parameter, public :: D_CLEAF = 1, D_CWOOD = 2, D_CFROOT = 3
   integer, parameter, public :: D_NLEAF = 4, D_NWOOD = 5, D_NFROOT = 6
   integer, parameter, public :: D_CLABILE = 7
   integer, parameter, public :: D_CMET = 8, D_CSTR = 9, D_CCWD = 10
   integer, parameter, public :: D_NMET = 11, D_NSTR = 12, D_NCWD = 13
   integer, parameter, public :: D_CMIC = 14, D_CSLOW = 15, D_CPASS = 16
   integer, parameter, public :: D_NMIC = 17, D_NSLOW = 18, D_NPASS = 19
   integer, parameter, public :: D_NSOILMIN = 20, D_LAI = 21, D_PHASE = 22, D_PLEAF = 23
   integer, parameter, public :: D_GPP = 24      ! GPP after root exudation
   integer, parameter, public :: D_NPP = 25, D_RA = 26
   integer, parameter, public :: D_RH = 27       ! true heterotrophic respiration
   integer, parameter, public :: D_NEP = 28      ! NPP - RH
   integer, parameter, public :: D_RM_LEAF = 29, D_RM_WOOD = 30, D_RM_FROOT = 31, D_RG = 32
   integer, parameter, public :: D_CLABLOSS = 33, D_CEXUDATE = 34, D_FRACCLABILE = 35
   integer, parameter, public :: D_FA_LEAF = 36, D_FA_WOOD = 37, D_FA_FROOT = 38
   integer, parameter, public :: D_KP_LEAF = 39, D_KP_WOOD = 40, D_KP_FROOT = 41
   integer, parameter, public :: D_KL_MET = 42, D_KL_STR = 43, D_KL_CWD = 44
   integer, parameter, public :: D_KS_MIC = 45, D_KS_SLOW = 46, D_KS_PASS = 47
   integer, parameter, public :: D_CLITINPT_MET = 48, D_CLITINPT_STR = 49, D_CPASSINPT = 50
   integer, parameter, public :: D_NLITINPT_MET = 51, D_NLITINPT_STR = 52
   integer, parameter, public :: D_NDEP = 53, D_NFIX = 54, D_NUPTAKE = 55
   integer, parameter, public :: D_NLEACH = 56, D_NLOSS = 57
   integer, parameter, public :: D_NLITTERMIN = 58, D_NSOILMIN_GROSS = 59, D_NSOILIMMOB = 60
   integer, parameter, public :: D_NNETMIN = 61, D_XKNLIMITING = 62
   integer, parameter, public :: D_TAIRC = 63, D_TSOILC = 64, D_MOISTAVG = 65, D_BTRAN = 66
   integer, parameter, public :: D_THETALIQ = 67, D_FT = 68, D_FW = 69
   integer, parameter, public :: D_FMET_LEAF = 70
   !> C and N created outside the budget by the original's quirks (exudate, NPP
   !> multiplier, clamps of negative pools, lost uptake...), so that
   !> d(storage) = inputs - outputs + source holds to round-off. See docs/conservation.md.
   integer, parameter, public :: D_C_QUIRK_SOURCE = 71, D_N_QUIRK_SOURCE = 72
   integer, parameter, public :: D_LITM = 73, D_LITS = 74, D_MICR = 75, D_MICK = 76
   integer, parameter, public :: D_SOMA = 77, D_SOMC = 78, D_SOMP = 79
   integer, parameter, public :: D_LITMN = 80, D_LITSN = 81, D_MICRN = 82, D_MICKN = 83
   integer, parameter, public :: D_SOMAN = 84, D_SOMCN = 85, D_SOMPN = 86
   integer, parameter, public :: D_DIN = 87, D_CHRESP = 88, D_CSOMPIN = 89
   integer, parameter, public :: D_CLITINPUT_MET = 90, D_CLITINPUT_STR = 91
   integer, parameter, public :: D_OVERFLOW_R = 92, D_OVERFLOW_K = 93
   integer, parameter, public :: D_NLITINPUT_MET = 94, D_NLITINPUT_STR = 95
   integer, parameter, public :: D_THETAFRZN = 96, D_FW_MIMICS = 97, D_FMET = 98
   integer, parameter, public :: D_LIGNINNRATIO = 99, D_TAUMOD = 100, D_NPP_PREV = 101
   integer, parameter, public :: D_CWD2CO2 = 102, D_CWD2STR = 103, D_THETALIQ_MIMICS = 104
   !> number of pools that went negative and were reset to 0 that day (casa.md Q13)
   integer, parameter, public :: D_NEG_POOLS = 105
   integer, parameter, public :: NDIAG = 105

   ! ------------------------------------------------------------- fix options
   ! fixes(i) = 1 switches on the documented fix of a quirk of the original
   ! (docs/quirks.md); all 0 reproduces the original bit for bit.
   integer, parameter, public :: FIX_CUMULATIVE_ROOT_DEPTH = 1   ! casa.md Q1
   integer, parameter, public :: FIX_CLAMP_BTRAN = 2             ! casa.md Q2
   integer, parameter, public :: FIX_LEAF_MAINT_RESP = 3         ! casa.md Q3
   integer, parameter, public :: FIX_CONSTANT_GROWTH_YIELD = 4   ! casa.md Q4
   integer, parameter, public :: FIX_EXUDATE_FROM_NPP = 5        ! casa.md Q6
   integer, parameter, public :: FIX_FLOOR_MINERAL_N = 6         ! casa.md Q10
   integer, parameter, public :: FIX_MIMICS_FIRST_YEAR_NPP = 7   ! mimics.md Q10
   integer, parameter, public :: FIX_RESERVED = 8
   integer, parameter, public :: NFIX = 8

   ! ------------------------------------------------------------ error codes
   integer, parameter, public :: ERR_OK = 0
   integer, parameter, public :: ERR_BAD_LAYOUT = 1   ! a size argument does not match this layout
   integer, parameter, public :: ERR_BAD_ARGUMENT = 2 ! icycle, doy or nday out of range

   integer, parameter, public :: NSOIL_LAYERS = 6

   public :: advance_argument_error

contains

   !> Error code for the day-range and output arguments of an advance call (ERR_OK if valid):
   !> icycle 1 or 2, days doy0 .. doy0+nday-1 within one 365-day year, room for the daily output.
   pure integer function advance_argument_error(icycle, nday, doy0, store_daily, nstore) result(ierr)
      integer, intent(in) :: icycle, nday, doy0, store_daily, nstore
      ierr = ERR_OK
      if (icycle < 1 .or. icycle > 2 .or. nday < 1 .or. doy0 < 1 .or. doy0 + nday - 1 > 365) ierr = ERR_BAD_ARGUMENT
      if (store_daily /= 0 .and. nstore < nday) ierr = ERR_BAD_ARGUMENT
   end function advance_argument_error
end module tb_layout
