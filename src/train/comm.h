/* comm.h — the data-parallel communication layer behind one small interface, so the transport
 * (MPI today, NCCL with a GPU backend later) is a local swap. Without MPI (or when not launched
 * by mpirun) there is one rank and every call is a no-op.
 *
 * Gradient averaging is weighted: rank r contributes its gradients with weight w_r (its number
 * of loss terms, e.g. masked tokens), and every rank ends with sum_r w_r g_r / sum_r w_r, which
 * is exactly the gradient of the loss over the global batch. */
#ifndef EVA_TRAIN_COMM_H
#define EVA_TRAIN_COMM_H

#include "train/optim.h"

/* Initialise (MPI_Init when the process was started by mpirun/srun). Safe to call once. */
eva_status eva_comm_init(int *argc, char ***argv);
void eva_comm_finalize(void);
int eva_comm_rank(void);
int eva_comm_world(void);
const char *eva_comm_backend(void);   /* "none" or "mpi" */

/* grads <- weighted average over ranks; *value (e.g. the loss) likewise; *weight <- the sum. */
eva_status eva_comm_allreduce_grads(const eva_param_ref *params, int n, double *value, double *weight);
/* Make every rank's parameters equal to rank 0's. */
eva_status eva_comm_broadcast_params(const eva_param_ref *params, int n);
/* Sum of a few doubles over ranks (metrics). */
eva_status eva_comm_allreduce_sum(double *values, int n);
/* Checksum of the parameters equal on all ranks? (debug: cheap, every K steps) */
eva_status eva_comm_check_params(const eva_param_ref *params, int n, int64_t step);
/* Seconds spent in communication since start (for the all-reduce time share). */
double eva_comm_seconds(void);

#endif
