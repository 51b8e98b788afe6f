!> Kinds and physical constants shared by every kernel module.
module tb_precision
   use, intrinsic :: iso_fortran_env, only: real32, real64
   use tb_columns, only: DZSOIL
   implicit none
   private
   !> soil layer thicknesses (m), top to bottom: declared in testbed/layout.toml
   public :: DZSOIL
   integer, parameter, public :: dp = real64
   !> kind of the met forcing as stored in the files; widened exactly to dp inside the kernel
   integer, parameter, public :: sp = real32
   real(dp), parameter, public :: TKZERO = 273.15_dp          !< 0 degC in K
   real(dp), parameter, public :: DAYS_PER_YEAR = 365.0_dp
   real(dp), parameter, public :: DELTCASA = 1.0_dp/365.0_dp  !< yr per day
   real(dp), parameter, public :: DELTPOOL = 1.0_dp           !< pool time step, days
end module tb_precision
