// Open MPI's handles (MPI_COMM_WORLD, MPI_BYTE, …) are macros over casts of global addresses,
// which Swift cannot import: these functions hand them over. Only built with the MPI trait.
#ifndef GOODINIT_CMPI_SHIM_H
#define GOODINIT_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm gi_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype gi_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype gi_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype gi_mpi_datatype_null(void) { return MPI_DATATYPE_NULL; }
static inline MPI_Op gi_mpi_sum(void) { return MPI_SUM; }
static inline void *gi_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *gi_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int gi_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline double gi_mpi_wtime(void) { return MPI_Wtime(); }

#endif
