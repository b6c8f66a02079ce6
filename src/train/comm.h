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
/* Of those, the seconds in the small exchange that opens every gradient reduction: it absorbs
 * the wait for the slowest rank (load imbalance), the rest is the transfer itself. */
double eva_comm_wait_seconds(void);

/* Fixed-order reduction: every reduced element is sum_r (w_r / sum w) g_r computed in double in
 * rank order 0..W-1 and rounded once, whatever the MPI library's algorithm, the bucket size or
 * ZeRO-1 on/off. Off: the MPI library's own (faster) all-reduce. */
void eva_comm_set_deterministic(bool on);
bool eva_comm_deterministic(void);
/* End every rank now (after a fatal error on this one, so the others do not wait for it in a
 * collective); no-op with one rank. */
void eva_comm_abort(int code);

/* ---- ZeRO-1: a flat block of `total` floats (vit_train's param_mem / grad_mem) is cut into
 * `world` contiguous shards; rank r owns [begin, end) and keeps the AdamW state of that range. */
void eva_comm_shard_range(int64_t total, int rank, int world, int64_t *begin, int64_t *end);
/* grad[own shard] <- weighted average over ranks (as eva_comm_allreduce_grads; *value, *weight
 * likewise). The rest of grad is left unspecified. */
eva_status eva_comm_reduce_scatter_grads(float *grad, int64_t total, double *value, double *weight);
/* Every rank's shard of param to every rank: param is complete and equal everywhere after. */
eva_status eva_comm_allgather_params(float *param, int64_t total);
/* Rank 0 receives all shards concatenated into full[total] (each rank passes its own shard in
 * `mine`; full is only written on rank 0 and may be NULL elsewhere). */
eva_status eva_comm_gather_shards(const float *mine, float *full, int64_t total);

/* ---- Overlapped gradient reduction (the default mode; --deterministic and ZeRO-1 keep their
 * own blocking paths above). One reduction at a time:
 *   eva_comm_overlap_begin(grad, total, w)   before the forward: posts the exchange of the
 *                                            weights (w known up front: masked tokens, images)
 *   eva_comm_grad_ready(NULL, begin, end)    grad[begin, end) is final (vit_train's grad_ready
 *                                            hook; ranges in decreasing order, each once): full
 *                                            buckets are scaled by w_me / sum w and posted as
 *                                            non-blocking reductions, earlier ones progressed
 *   eva_comm_overlap_finish(&value, &weight) after the backward: posts the rest, waits for all;
 *                                            grad[0, total) is then the weighted average (the
 *                                            same floats as eva_comm_allreduce_grads with 2
 *                                            ranks), value and weight as there.
 * Errors inside the hook are kept and returned by finish. `params` (may be NULL) only serves
 * the EVA_FAULT_COMM test hook. With one rank every call is a no-op. */
typedef enum eva_comm_compress { EVA_COMM_FP32 = 0, EVA_COMM_BF16 = 1 } eva_comm_compress;
/* bf16: the overlapped reduction sends gradients rounded to bf16 (half the bytes): an all-to-all
 * of bf16 pieces, each rank sums its piece in fp32 (rank order), rounds it to bf16, and an
 * all-gather returns the pieces. Default EVA_COMM_FP32. */
void eva_comm_set_compress(eva_comm_compress c);
/* Bucket size in MB (default 25, or env EVA_COMM_BUCKET_MB); <= 0 keeps the current one. */
void eva_comm_set_bucket_mb(double mb);
eva_status eva_comm_overlap_begin(float *grad, int64_t total, double weight, const eva_param_ref *params, int n);
void eva_comm_grad_ready(void *user, int64_t begin, int64_t end);
eva_status eva_comm_overlap_finish(double *value, double *weight);
/* Seconds the backward computed while posted reductions were in flight (the transfer time it
 * could hide: an upper bound on the time actually saved). */
double eva_comm_overlap_seconds(void);

#endif
