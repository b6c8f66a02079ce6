/* comm_none.c — the single-process communication layer (built when MPI is not available). */
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
#endif
