# Sourced by the scripts: lets Open MPI run as root (containers, CI) and keeps
# oversubscribed ranks from spinning on the cores they share.
if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
