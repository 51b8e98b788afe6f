"""testbed: the land biogeochemistry testbed (CASA-CNP + CASA-CN / MIMICS-CN) with a Fortran kernel."""
