/* comm_none.c — the single-process communication layer (built when MPI is not available; with
 * MPI, comm_mpi.c provides the same functions and behaves like this file when the process was
 * not started by mpirun/srun). */
#include "train/comm.h"

#ifndef EVA_HAVE_MPI
eva_status eva_comm_init(int *argc, char ***argv) { (void)argc; (void)argv; return EVA_OK; }
void eva_comm_finalize(void) {}
int eva_comm_rank(void) { return 0; }
int eva_comm_world(void) { return 1; }
const char *eva_comm_backend(void) { return "none"; }
eva_status eva_comm_allreduce_grads(const eva_param_ref *params, int n, double *value, double *weight) {
    (void)params; (void)n; (void)value; (void)weight;
    return EVA_OK;
}
eva_status eva_comm_broadcast_params(const eva_param_ref *params, int n) { (void)params; (void)n; return EVA_OK; }
eva_status eva_comm_allreduce_sum(double *values, int n) { (void)values; (void)n; return EVA_OK; }
eva_status eva_comm_check_params(const eva_param_ref *params, int n, int64_t step) {
    (void)params; (void)n; (void)step;
    return EVA_OK;
}
double eva_comm_seconds(void) { return 0; }
double eva_comm_wait_seconds(void) { return 0; }
static bool g_deterministic;
void eva_comm_set_deterministic(bool on) { g_deterministic = on; }
bool eva_comm_deterministic(void) { return g_deterministic; }
void eva_comm_abort(int code) { (void)code; }
void eva_comm_shard_range(int64_t total, int rank, int world, int64_t *begin, int64_t *end) {
    *begin = world > 0 ? total * rank / world : 0;
    *end = world > 0 ? total * (rank + 1) / world : total;
}
eva_status eva_comm_reduce_scatter_grads(float *grad, int64_t total, double *value, double *weight) {
    (void)grad; (void)total; (void)value; (void)weight;
    return EVA_OK;
}
eva_status eva_comm_allgather_params(float *param, int64_t total) { (void)param; (void)total; return EVA_OK; }
eva_status eva_comm_gather_shards(const float *mine, float *full, int64_t total) {
    if (full && full != mine && total > 0) memmove(full, mine, sizeof(float) * (size_t)total);
    return EVA_OK;
}
void eva_comm_set_compress(eva_comm_compress c) { (void)c; }
void eva_comm_set_bucket_mb(double mb) { (void)mb; }
eva_status eva_comm_overlap_begin(float *grad, int64_t total, double weight, const eva_param_ref *params, int n) {
    (void)grad; (void)total; (void)weight; (void)params; (void)n;
    return EVA_OK;
}
void eva_comm_grad_ready(void *user, int64_t begin, int64_t end) { (void)user; (void)begin; (void)end; }
eva_status eva_comm_overlap_finish(double *value, double *weight) { (void)value; (void)weight; return EVA_OK; }
double eva_comm_overlap_seconds(void) { return 0; }
#endif
