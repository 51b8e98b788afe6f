!> Soil-water potential and the water-potential rate scalar (spec seed_processes.md 2.2, 2.3).
!>
!> Van Genuchten-Mualem head h (cm) of a water content, m = 1 - 1/n, and S001 Eq. D10
!> (Table A2: psi_opt = -30 hPa, psi_th = -158000 hPa, a = 1.47). 1 cm H2O = 0.980665 hPa.
!> Used only when a water-potential option is on; the same formulas are in testbed/moisture.py.
module tb_moisture
   use, intrinsic :: iso_fortran_env, only: int64
   use tb_precision, only: dp
   implicit none
   private
   public :: vg_psi, vg_theta, f_psi, heterogeneity_mm, heterogeneity_mm_vmax, fw_wfps, no_moisture_limit

   real(dp), parameter, public :: HPA_PER_CM = 0.980665_dp
   !> IEEE -infinity, as its bit pattern 0xFFF0000000000000 (the build's -nostdinc hides ieee_arithmetic)
   real(dp), parameter :: NEG_INF = transfer(-4503599627370496_int64, 1.0_dp)
   real(dp), parameter :: PSI_OPT = -30.0_dp, PSI_TH = -158000.0_dp, A_PSI = 1.47_dp

contains

   !> CASA's moisture scalar of decomposition (casa.md 4.10; MIMICS' CWD decay, mimics.md 4.3, and its fw_function
   !> 1): the Kelly et al. curve of the water-filled pore space wfps (fraction), 1 at its maximum, wfps = 0.55.
   pure elemental function fw_wfps(wfps) result(fw)
      real(dp), intent(in) :: wfps
      real(dp) :: fw
      fw = ((wfps - 1.70_dp)/(0.55_dp - 1.70_dp))**6.6481_dp &
           *((wfps - (-0.007_dp))/(0.55_dp - (-0.007_dp)))**3.22_dp
   end function fw_wfps

   !> Croplands (IGBP type iveg 12 or 14): their decomposition has no moisture limitation (fW = 1; casa.md 4.10,
   !> mimics.md 4.3), so fw_wfps need not be evaluated there.
   pure elemental logical function no_moisture_limit(iveg)
      integer, intent(in) :: iveg
      no_moisture_limit = iveg == 12 .or. iveg == 14
   end function no_moisture_limit

   !> Water potential (hPa) of water content theta (m3 m-3): Se = (theta - theta_r)/(theta_s - theta_r)
   !> clipped to <= 1; Se <= 0 (at or below the residual water content) gives -infinity (f_psi = 0), which
   !> the float32 daily output can hold (-huge could not).
   pure elemental function vg_psi(theta, theta_r, theta_s, alpha, n) result(psi)
      real(dp), intent(in) :: theta, theta_r, theta_s, alpha, n
      real(dp) :: psi, se, m
      se = min(1.0_dp, (theta - theta_r)/(theta_s - theta_r))
      if (se <= 0.0_dp) then
         psi = NEG_INF
         return
      end if
      m = 1.0_dp - 1.0_dp/n
      psi = -((1.0_dp/alpha)*(se**(-1.0_dp/m) - 1.0_dp)**(1.0_dp/n))*HPA_PER_CM
   end function vg_psi

   !> Water content (m3 m-3) at water potential psi (hPa <= 0): theta_r + (theta_s - theta_r)
   !> [1 + (alpha |h|)^n]^(-m), h = psi/0.980665 cm (seed_processes.md 2.2, M3).
   pure elemental function vg_theta(psi, theta_r, theta_s, alpha, n) result(theta)
      real(dp), intent(in) :: psi, theta_r, theta_s, alpha, n
      real(dp) :: theta, m
      m = 1.0_dp - 1.0_dp/n
      theta = theta_r + (theta_s - theta_r)*((1.0_dp + (alpha*abs(psi/HPA_PER_CM))**n)**(-m))
   end function vg_theta

   !> S001 Eq. D10: 1 above psi_opt, 0 below psi_th, else 1 - [log10(psi/psi_opt)/log10(psi_th/psi_opt)]^a.
   pure elemental function f_psi(psi) result(f)
      real(dp), intent(in) :: psi
      real(dp) :: f
      if (psi > PSI_OPT) then
         f = 1.0_dp
      else if (psi < PSI_TH) then
         f = 0.0_dp
      else
         f = 1.0_dp - (log10(psi/PSI_OPT)/log10(PSI_TH/PSI_OPT))**A_PSI
      end if
   end function f_psi

   !> Second-order heterogeneity factor of a reverse Michaelis-Menten flux V S M/(K + M) (S002 Table 2,
   !> seed_processes.md 3.1): 1 - CVM^2 K M/(K+M)^2 + rho CVS CVM K/(K+M).
   pure elemental function heterogeneity_mm(k, m, cvs, cvm, rho) result(phi)
      real(dp), intent(in) :: k, m, cvs, cvm, rho
      real(dp) :: phi, r
      r = k/(k + m)
      phi = (1.0_dp - ((cvm*cvm)*r)*(m/(k + m))) + ((rho*cvs)*cvm)*r
   end function heterogeneity_mm

   !> The Vmax terms of the reverse Michaelis-Menten factor (S002 Eq. 16, seed_processes.md 3.1), added to
   !> heterogeneity_mm: rho_VS CVV CVS + rho_VM CVV CVM K/(K+M).
   pure elemental function heterogeneity_mm_vmax(k, m, cvs, cvm, cvv, rho_vs, rho_vm) result(dphi)
      real(dp), intent(in) :: k, m, cvs, cvm, cvv, rho_vs, rho_vm
      real(dp) :: dphi
      dphi = (rho_vs*cvv)*cvs + ((rho_vm*cvv)*cvm)*(k/(k + m))
   end function heterogeneity_mm_vmax

end module tb_moisture
