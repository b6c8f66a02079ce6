/* comm_mpi.c — data-parallel communication over MPI (comm.h). W ranks, rank r, gradients g_r
 * with weights w_r (loss terms), s_r = w_r / sum_q w_q. Every reduction computes
 *     out = sum_r s_r g_r                                                   (per element)
 * which is the gradient of the mean loss over the global batch.
 *
 * MPI_Init is only called when the process was started by a launcher (mpirun/mpiexec sets
 * OMPI_COMM_WORLD_SIZE, Slurm's srun PMI_SIZE or PMIX_RANK); otherwise this file behaves exactly
 * like comm_none.c (one rank, every call a no-op), so the plain `eva pretrain` is unchanged.
 *
 * Two reduction modes:
 *  - default: each rank scales its gradients by s_r (in place, rounded to float), then the
 *    gradient block is cut into buckets of --bucket-mb / EVA_COMM_BUCKET_MB (25 MB) and every
 *    bucket is posted as a non-blocking MPI_Iallreduce; all are waited for at the end.
 *    eva_comm_allreduce_grads does this after the backward; the overlapped variant at the end
 *    of this file (eva_comm_overlap_*) posts each bucket from vit_train's grad_ready hook as
 *    soon as the backward has finished it, optionally in bf16.
 *  - deterministic (eva_comm_set_deterministic): per bucket, MPI_Alltoall hands piece p of every
 *    rank's (unscaled) bucket to rank p, which computes sum_r s_r g_r in double, in rank order
 *    0..W-1, rounds once to float; MPI_Allgather returns the pieces. The result depends only on
 *    the W gradient arrays and weights: not on the MPI algorithm, bucket size, network or
 *    ZeRO-1 (its reduce-scatter uses the same per-element formula).
 *
 * ZeRO-1 (eva_comm_reduce_scatter_grads / eva_comm_allgather_params): the flat block is cut
 * into W contiguous shards; bucket k carries piece [begin_r + kS, begin_r + (k+1)S) of every
 * shard r (S = bucket / W floats), packed in rank order, reduced with MPI_Reduce_scatter_block
 * (default) or the Alltoall + ordered sum above (deterministic). With W = 2 the default mode
 * gives the same bits as the plain all-reduce (a + b is commutative).
 *
 * Dead or hung ranks: errors return (MPI_ERRORS_RETURN) and become eva_fail messages; a watchdog
 * thread ends the process with a clear message when one collective has not completed within
 * EVA_COMM_TIMEOUT seconds (default 300), so the launcher tears the job down instead of hanging.
 * Test hook: EVA_FAULT_COMM="kill:R:N", "stall:R:N" or "perturb:R:N" makes rank R die
 * (SIGKILL), stop responding, or change one parameter (a silent divergence) at its N-th gradient
 * reduction. */
#ifdef EVA_HAVE_MPI
#include "train/comm.h"

#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool active;                /* MPI_Init called by us */
    int rank, world;
    bool deterministic;
    eva_comm_compress compress;
    double seconds;             /* time inside this file's collectives */
    double wait_seconds;        /* of which in the small weight exchange that starts each
                                 * reduction: mostly waiting for the slowest rank */
    double timeout;
    MPI_Comm buckets, gathers;  /* duplicates of MPI_COMM_WORLD for the overlapped reduction's
                                 * buckets and bf16 all-gathers (each posted in bucket order) */
    int64_t bucket;             /* floats per bucket */
    float *buf_a, *buf_b;       /* bucket-sized scratch (deterministic / ZeRO paths) */
    int64_t buf_n;
    int fault_kind, fault_rank; /* 1 kill, 2 stall */
    int64_t fault_call, calls;
} g = {.world = 1};

/* ---- watchdog: the time a blocking collective started (0: none in progress) */
static _Atomic double g_op_start;
static _Atomic(const char *) g_op_name;

static void *watchdog_main(void *arg) {
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double t0 = atomic_load(&g_op_start);
        if (t0 > 0 && eva_now_seconds() - t0 > g.timeout) {
            const char *op = atomic_load(&g_op_name);
            fprintf(stderr,
                    "eva: rank %d of %d: %s did not complete within %.0f s (EVA_COMM_TIMEOUT): another rank died "
                    "or hangs; aborting this rank\n",
                    g.rank, g.world, op ? op : "a collective", g.timeout);
            fflush(stderr);
            _exit(124);
        }
    }
    return NULL;
}

static double op_begin(const char *name) {
    double t = eva_now_seconds();
    atomic_store(&g_op_name, name);
    atomic_store(&g_op_start, t);
    return t;
}

static void op_end(double t0) {
    atomic_store(&g_op_start, 0.0);
    g.seconds += eva_now_seconds() - t0;
}

static eva_status mpi_fail(int rc, const char *what) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
    return eva_fail(EVA_ERR_IO, "rank %d of %d: %s failed: %s (a peer rank may have died)", g.rank, g.world, what, s);
}
#define MPI_TRY(call, what)                                  \
    do {                                                     \
        int rc_ = (call);                                    \
        if (rc_ != MPI_SUCCESS) {                            \
            op_end(t0);                                      \
            return mpi_fail(rc_, what);                      \
        }                                                    \
    } while (0)

void eva_comm_set_bucket_mb(double mb) {
    if (!(mb > 0)) return;
    int64_t w = g.world > 0 ? g.world : 1;
    double f = mb * 1048576.0 / sizeof(float);
    g.bucket = f > (double)(1 << 28) ? (1 << 28) : (int64_t)f;   /* MPI counts are int */
    if (g.bucket < 64 * w) g.bucket = 64 * w;
    g.bucket -= g.bucket % w;                                   /* W pieces of S floats */
    if (g.buf_n < g.bucket) {   /* the deterministic / ZeRO-1 scratch grows on next use */
        eva_aligned_free(g.buf_a);
        eva_aligned_free(g.buf_b);
        g.buf_a = g.buf_b = NULL;
        g.buf_n = 0;
    }
}

static bool launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

eva_status eva_comm_init(int *argc, char ***argv) {
    if (g.active || !launched_by_mpi()) return EVA_OK;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return eva_fail(EVA_ERR_IO, "MPI_Init failed");
    g.active = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.world);
    if (MPI_Comm_dup(MPI_COMM_WORLD, &g.buckets) != MPI_SUCCESS || MPI_Comm_dup(MPI_COMM_WORLD, &g.gathers) != MPI_SUCCESS)
        return eva_fail(EVA_ERR_IO, "MPI_Comm_dup failed");
    const char *s = getenv("EVA_COMM_TIMEOUT");
    g.timeout = s && atof(s) > 0 ? atof(s) : 300.0;
    s = getenv("EVA_COMM_BUCKET_MB");
    eva_comm_set_bucket_mb(s && atof(s) > 0 ? atof(s) : 25.0);
    s = getenv("EVA_FAULT_COMM");
    if (s) {
        int r = 0;
        long long c = 0;
        if (sscanf(s, "kill:%d:%lld", &r, &c) == 2) g.fault_kind = 1;
        else if (sscanf(s, "stall:%d:%lld", &r, &c) == 2) g.fault_kind = 2;
        else if (sscanf(s, "perturb:%d:%lld", &r, &c) == 2) g.fault_kind = 3;
        g.fault_rank = r;
        g.fault_call = c;
    }
    if (g.world > 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, watchdog_main, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0) return eva_fail(EVA_ERR_IO, "cannot start the communication watchdog thread");
    }
    return EVA_OK;
}

static void overlap_free(void);

void eva_comm_finalize(void) {
    if (!g.active) return;
    overlap_free();
    MPI_Comm_free(&g.buckets);
    MPI_Comm_free(&g.gathers);
    eva_aligned_free(g.buf_a);
    eva_aligned_free(g.buf_b);
    g.buf_a = g.buf_b = NULL;
    g.buf_n = 0;
    MPI_Finalize();
    g.active = false;
}

void eva_comm_abort(int code) {
    if (g.active && g.world > 1) {
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    }
}

int eva_comm_rank(void) { return g.rank; }
int eva_comm_world(void) { return g.world; }
const char *eva_comm_backend(void) { return g.active ? "mpi" : "none"; }
double eva_comm_seconds(void) { return g.seconds; }
double eva_comm_wait_seconds(void) { return g.wait_seconds; }
void eva_comm_set_deterministic(bool on) { g.deterministic = on; }
bool eva_comm_deterministic(void) { return g.deterministic; }

void eva_comm_shard_range(int64_t total, int rank, int world, int64_t *begin, int64_t *end) {
    *begin = world > 0 ? total * rank / world : 0;
    *end = world > 0 ? total * (rank + 1) / world : total;
}

static eva_status ensure_buffers(void) {
    if (g.buf_n >= g.bucket) return EVA_OK;
    eva_aligned_free(g.buf_a);
    eva_aligned_free(g.buf_b);
    g.buf_a = eva_aligned_alloc(sizeof(float) * (size_t)g.bucket);
    g.buf_b = eva_aligned_alloc(sizeof(float) * (size_t)g.bucket);
    if (!g.buf_a || !g.buf_b) {
        eva_aligned_free(g.buf_a);
        eva_aligned_free(g.buf_b);
        g.buf_a = g.buf_b = NULL;
        g.buf_n = 0;
        return eva_fail(EVA_ERR_NOMEM, "out of memory for the communication buckets");
    }
    g.buf_n = g.bucket;
    return EVA_OK;
}

static void fault_hook(const eva_param_ref *params, int n) {
    g.calls++;
    if (!g.fault_kind || g.rank != g.fault_rank || g.calls != g.fault_call) return;
    static const char *const what[] = {"", "dying", "stalling", "perturbing a parameter"};
    fprintf(stderr, "eva: rank %d: EVA_FAULT_COMM: %s at reduction %lld\n", g.rank, what[g.fault_kind], (long long)g.calls);
    fflush(stderr);
    if (g.fault_kind == 3) {   /* a silent divergence for --check-every to find */
        if (n > 0 && params[0].numel > 0) params[0].param[0] += 1e-3f;
        return;
    }
    if (g.fault_kind == 1) raise(SIGKILL);
    for (;;) pause();
}

/* Weights of every rank, in rank order: s[r] = w_r / sum w; *value <- sum_r s_r value_r (in
 * rank order, so it is deterministic in both modes); *weight <- sum w. */
static eva_status exchange_weights(double *value, double *weight, double *s) {
    double mine[2] = {*weight, *value}, *all = s + g.world;   /* s has room for 3W doubles */
    double t0 = op_begin("MPI_Allgather (weights)");
    MPI_TRY(MPI_Allgather(mine, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather (weights)");
    op_end(t0);
    g.wait_seconds += eva_now_seconds() - t0;
    double wsum = 0, v = 0;
    for (int r = 0; r < g.world; r++) wsum += all[2 * r];
    if (!(wsum > 0)) return eva_fail(EVA_ERR_INVALID_ARG, "gradient weights sum to %g over %d ranks", wsum, g.world);
    for (int r = 0; r < g.world; r++) {
        s[r] = all[2 * r] / wsum;
        v += s[r] * all[2 * r + 1];
    }
    *value = v;
    *weight = wsum;
    return EVA_OK;
}

/* Deterministic reduction of pieces: recv holds W pieces of S floats (piece r from rank r);
 * out[i] = (float) sum_r s_r recv[r S + i] for i < n, in rank order. */
static void ordered_sum(const float *recv, int64_t S, int64_t n, const double *s, float *out) {
    for (int64_t i = 0; i < n; i++) {
        double acc = 0;
        for (int r = 0; r < g.world; r++) acc += s[r] * (double)recv[(int64_t)r * S + i];
        out[i] = (float)acc;
    }
}

/* Default mode, one contiguous array: scale by s_me, bucketed non-blocking in-place all-reduce. */
static eva_status allreduce_fast(float *p, int64_t n, double scale) {
    int64_t nb = (n + g.bucket - 1) / g.bucket;
    MPI_Request *req = malloc(sizeof *req * (size_t)(nb ? nb : 1));
    if (!req) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    double t0 = op_begin("MPI_Iallreduce (gradients)");
    for (int64_t k = 0; k < nb; k++) {
        float *q = p + k * g.bucket;
        int cnt = (int)EVA_MIN(g.bucket, n - k * g.bucket);
        for (int i = 0; i < cnt; i++) q[i] = (float)((double)q[i] * scale);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, q, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req[k]);
        if (rc != MPI_SUCCESS) {
            free(req);
            op_end(t0);
            return mpi_fail(rc, "MPI_Iallreduce");
        }
        int done;   /* let the library progress the posted buckets while we scale the next */
        MPI_Testall((int)(k + 1), req, &done, MPI_STATUSES_IGNORE);
    }
    int rc = MPI_Waitall((int)nb, req, MPI_STATUSES_IGNORE);
    free(req);
    op_end(t0);
    return rc == MPI_SUCCESS ? EVA_OK : mpi_fail(rc, "MPI_Waitall (gradients)");
}

/* Deterministic mode, one contiguous array: per bucket Alltoall + ordered sum + Allgather. */
static eva_status allreduce_ordered(float *p, int64_t n, const double *s) {
    eva_status st = ensure_buffers();
    if (st != EVA_OK) return st;
    int W = g.world;
    double t0 = op_begin("MPI_Alltoall/MPI_Allgather (deterministic gradients)");
    for (int64_t off = 0; off < n; off += g.bucket) {
        int64_t len = EVA_MIN(g.bucket, n - off), S = (len + W - 1) / W;
        memset(g.buf_a, 0, sizeof(float) * (size_t)(S * W));
        memcpy(g.buf_a, p + off, sizeof(float) * (size_t)len);
        MPI_TRY(MPI_Alltoall(g.buf_a, (int)S, MPI_FLOAT, g.buf_b, (int)S, MPI_FLOAT, MPI_COMM_WORLD), "MPI_Alltoall");
        int64_t mine_n = EVA_MIN(S, EVA_MAX(0, len - g.rank * S));
        ordered_sum(g.buf_b, S, mine_n, s, g.buf_a);
        MPI_TRY(MPI_Allgather(g.buf_a, (int)S, MPI_FLOAT, g.buf_b, (int)S, MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgather");
        memcpy(p + off, g.buf_b, sizeof(float) * (size_t)len);
    }
    op_end(t0);
    return EVA_OK;
}

/* The parameter list as maximal runs of contiguous memory (vit_train: one run). */
typedef struct span {
    float *p;
    int64_t n;
} span;

static int make_spans(const eva_param_ref *params, int n, bool grads, span *out) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        float *p = grads ? params[i].grad : params[i].param;
        if (!p || params[i].numel <= 0) continue;
        if (k > 0 && out[k - 1].p + out[k - 1].n == p) out[k - 1].n += params[i].numel;
        else out[k++] = (span){p, params[i].numel};
    }
    return k;
}

eva_status eva_comm_allreduce_grads(const eva_param_ref *params, int n, double *value, double *weight) {
    if (!g.active) return EVA_OK;
    fault_hook(params, n);   /* also under `mpirun -np 1` (tests) */
    if (g.world == 1) return EVA_OK;
    double *s = malloc(sizeof(double) * 3 * (size_t)g.world);
    span *sp = malloc(sizeof(span) * (size_t)(n > 0 ? n : 1));
    eva_status st = s && sp ? EVA_OK : eva_fail(EVA_ERR_NOMEM, "out of memory");
    if (st == EVA_OK) st = exchange_weights(value, weight, s);
    int ns = st == EVA_OK ? make_spans(params, n, true, sp) : 0;
    for (int i = 0; i < ns && st == EVA_OK; i++)
        st = g.deterministic ? allreduce_ordered(sp[i].p, sp[i].n, s) : allreduce_fast(sp[i].p, sp[i].n, s[g.rank]);
    free(s);
    free(sp);
    return st;
}

eva_status eva_comm_broadcast_params(const eva_param_ref *params, int n) {
    if (!g.active || g.world == 1) return EVA_OK;
    span *sp = malloc(sizeof(span) * (size_t)(n > 0 ? n : 1));
    if (!sp) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    int ns = make_spans(params, n, false, sp);
    double t0 = op_begin("MPI_Bcast (parameters)");
    for (int i = 0; i < ns; i++)
        for (int64_t off = 0; off < sp[i].n; off += g.bucket) {
            int rc = MPI_Bcast(sp[i].p + off, (int)EVA_MIN(g.bucket, sp[i].n - off), MPI_FLOAT, 0, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) {
                free(sp);
                op_end(t0);
                return mpi_fail(rc, "MPI_Bcast (parameters)");
            }
        }
    op_end(t0);
    free(sp);
    return EVA_OK;
}

eva_status eva_comm_allreduce_sum(double *values, int n) {
    if (!g.active || g.world == 1 || n <= 0) return EVA_OK;
    if (!g.deterministic) {
        double t0 = op_begin("MPI_Allreduce (metrics)");
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (metrics)");
        op_end(t0);
        return EVA_OK;
    }
    /* deterministic: every rank sums all contributions in rank order (ZeRO-1's gradient norm) */
    double *all = malloc(sizeof(double) * (size_t)n * (size_t)g.world);
    if (!all) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    double t0 = op_begin("MPI_Allgather (sums)");
    int rc = MPI_Allgather(values, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    op_end(t0);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_fail(rc, "MPI_Allgather (sums)");
    }
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int r = 0; r < g.world; r++) acc += all[(size_t)r * n + i];
        values[i] = acc;
    }
    free(all);
    return EVA_OK;
}

/* FNV-1a over the parameter bits: equal on every rank iff the parameters are (up to hash
 * collisions, irrelevant for a divergence check). */
eva_status eva_comm_check_params(const eva_param_ref *params, int n, int64_t step) {
    if (!g.active || g.world == 1) return EVA_OK;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        const float *p = params[i].param;
        for (int64_t j = 0; j < params[i].numel; j++) {
            uint32_t u;
            memcpy(&u, &p[j], sizeof u);   /* the bits, without type punning */
            h = (h ^ u) * 1099511628211ull;
        }
    }
    unsigned long long mine = h, *all = malloc(sizeof *all * (size_t)g.world);
    if (!all) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    double t0 = op_begin("MPI_Allgather (parameter checksum)");
    int rc = MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
    op_end(t0);
    if (rc != MPI_SUCCESS) {
        free(all);
        return mpi_fail(rc, "MPI_Allgather (parameter checksum)");
    }
    eva_status st = EVA_OK;
    for (int r = 1; r < g.world && st == EVA_OK; r++)
        if (all[r] != all[0])
            st = eva_fail(EVA_ERR_INVALID_ARG, "parameters diverged at step %lld: checksum of rank %d %016llx != rank 0 %016llx",
                          (long long)step, r, all[r], all[0]);
    free(all);
    return st;
}

/* ---- ZeRO-1 */

/* Piece of rank r in bucket k: [b_r + kS, min(b_r + (k+1)S, e_r)), possibly empty. */
static void piece(int64_t total, int r, int64_t k, int64_t S, int64_t *off, int64_t *len) {
    int64_t b, e;
    eva_comm_shard_range(total, r, g.world, &b, &e);
    *off = b + k * S;
    *len = EVA_MAX(0, EVA_MIN(S, e - *off));
}

/* Buckets needed for the longest shard (shards differ by at most one float). */
static int64_t shard_buckets(int64_t total, int64_t S) {
    int64_t longest = (total + g.world - 1) / g.world;
    return (longest + S - 1) / S;
}

eva_status eva_comm_reduce_scatter_grads(float *grad, int64_t total, double *value, double *weight) {
    if (!g.active || g.world == 1) return EVA_OK;
    fault_hook(NULL, 0);
    eva_status st = ensure_buffers();
    double *s = malloc(sizeof(double) * 3 * (size_t)g.world);
    if (!s) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    if (st == EVA_OK) st = exchange_weights(value, weight, s);
    if (st != EVA_OK) {
        free(s);
        return st;
    }
    int W = g.world;
    int64_t S = g.bucket / W, nb = shard_buckets(total, S);
    double t0 = op_begin(g.deterministic ? "MPI_Alltoall (ZeRO-1 gradients)" : "MPI_Reduce_scatter_block (ZeRO-1 gradients)");
    for (int64_t k = 0; k < nb; k++) {
        for (int r = 0; r < W; r++) {   /* pack piece r of this bucket at r S (scaled by s_me by default) */
            int64_t off, len;
            piece(total, r, k, S, &off, &len);
            float *dst = g.buf_a + (int64_t)r * S;
            if (g.deterministic) memcpy(dst, grad + off, sizeof(float) * (size_t)len);
            else
                for (int64_t i = 0; i < len; i++) dst[i] = (float)((double)grad[off + i] * s[g.rank]);
            memset(dst + len, 0, sizeof(float) * (size_t)(S - len));
        }
        int64_t off, len;
        piece(total, g.rank, k, S, &off, &len);
        int rc = g.deterministic
                     ? MPI_Alltoall(g.buf_a, (int)S, MPI_FLOAT, g.buf_b, (int)S, MPI_FLOAT, MPI_COMM_WORLD)
                     : MPI_Reduce_scatter_block(g.buf_a, g.buf_b, (int)S, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            free(s);
            op_end(t0);
            return mpi_fail(rc, "ZeRO-1 gradient reduce-scatter");
        }
        if (g.deterministic) ordered_sum(g.buf_b, S, len, s, grad + off);
        else memcpy(grad + off, g.buf_b, sizeof(float) * (size_t)len);
    }
    op_end(t0);
    free(s);
    return EVA_OK;
}

eva_status eva_comm_allgather_params(float *param, int64_t total) {
    if (!g.active || g.world == 1) return EVA_OK;
    eva_status st = ensure_buffers();
    if (st != EVA_OK) return st;
    int W = g.world;
    int64_t S = g.bucket / W, nb = shard_buckets(total, S);
    double t0 = op_begin("MPI_Allgather (ZeRO-1 parameters)");
    for (int64_t k = 0; k < nb; k++) {
        int64_t off, len;
        piece(total, g.rank, k, S, &off, &len);
        memcpy(g.buf_a, param + off, sizeof(float) * (size_t)len);
        memset(g.buf_a + len, 0, sizeof(float) * (size_t)(S - len));
        MPI_TRY(MPI_Allgather(g.buf_a, (int)S, MPI_FLOAT, g.buf_b, (int)S, MPI_FLOAT, MPI_COMM_WORLD),
                "MPI_Allgather (ZeRO-1 parameters)");
        for (int r = 0; r < W; r++) {
            piece(total, r, k, S, &off, &len);
            if (r != g.rank) memcpy(param + off, g.buf_b + (int64_t)r * S, sizeof(float) * (size_t)len);
        }
    }
    op_end(t0);
    return EVA_OK;
}

eva_status eva_comm_gather_shards(const float *mine, float *full, int64_t total) {
    if (!g.active || g.world == 1) {
        if (full && full != mine && total > 0) memmove(full, mine, sizeof(float) * (size_t)total);
        return EVA_OK;
    }
    if (total > INT32_MAX) return eva_fail(EVA_ERR_INVALID_ARG, "ZeRO-1 gather: %lld floats is too many", (long long)total);
    int W = g.world;
    int *cnt = malloc(sizeof(int) * 2 * (size_t)W);
    if (!cnt) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    int *disp = cnt + W;
    for (int r = 0; r < W; r++) {
        int64_t b, e;
        eva_comm_shard_range(total, r, W, &b, &e);
        cnt[r] = (int)(e - b);
        disp[r] = (int)b;
    }
    double t0 = op_begin("MPI_Gatherv (ZeRO-1 optimizer state)");
    int rc = MPI_Gatherv(mine, cnt[g.rank], MPI_FLOAT, full, cnt, disp, MPI_FLOAT, 0, MPI_COMM_WORLD);
    op_end(t0);
    free(cnt);
    return rc == MPI_SUCCESS ? EVA_OK : mpi_fail(rc, "MPI_Gatherv (ZeRO-1 optimizer state)");
}

/* ---- Overlapped reduction (comm.h: eva_comm_overlap_*). The backward reports final gradient
 * ranges from the top of the block down; [lo, total) is ready, [hi, total) posted. Whenever the
 * ready-but-unposted part [lo, hi) holds a full bucket, its top bucket is scaled by s_me and
 * posted; every hook call also tests the requests in flight, which is what makes Open MPI's
 * non-blocking collectives (libnbc, no progress thread) advance while the backward computes.
 *
 * fp32: MPI_Iallreduce(MPI_SUM) in place: the same floats as allreduce_fast (scaling is per
 * element; with 2 ranks a + b is commutative, so any bucketing gives identical bits).
 * bf16: why not an MPI_Op on bf16 inside MPI_Iallreduce: every partial sum of a tree or ring
 * would be rounded to bf16 again (error growing with W and depending on the algorithm). Instead
 * MPI_Ialltoall hands piece p of every rank's bf16 bucket to rank p, which sums its W pieces
 * in fp32 (rank order) and rounds once; MPI_Iallgather returns the bf16 pieces. Bytes on the
 * wire per rank: 2 (W-1)/W x 2 bytes per gradient, half of a ring all-reduce in fp32; two
 * roundings (input, result) whatever W. */
typedef struct ov_bucket {
    int64_t off, len, S;   /* grad[off, off + len); bf16: W pieces of S */
    int phase;             /* 1: all-reduce (fp32) or all-to-all (bf16) in flight, 2: bf16
                            * all-gather in flight, 3: done */
    bool a2a_done;         /* phase 1 request complete (bf16: all-gather not posted yet) */
    MPI_Request req;
} ov_bucket;

static struct {
    bool on;
    float *grad;
    int64_t total, lo, hi;   /* ready [lo, total), posted [hi, total) */
    double w_mine, v_mine, *w_all, *v_all;   /* [W] each */
    MPI_Request wreq;
    bool have_scale;
    double scale, wsum;
    ov_bucket *b;
    int nb, cap;
    uint16_t **stage;        /* [cap] bf16 staging per bucket index (send | recv, 2 S W), reused */
    int64_t *stage_n;
    eva_status err;
    double t_out;            /* when the last hook returned with buckets in flight (0: none) */
    double hidden;           /* sum of the backward's compute time with buckets in flight */
} ov;

/* base.h's conversions, inlined for the bucket loops (same rounding: nearest even, NaN kept) */
static inline uint16_t to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
static inline float from_bf16(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Entering the communication layer from the backward: count the compute time since the last
 * hook returned as hidden when buckets were in flight meanwhile. */
static void ov_enter(double now) {
    if (ov.t_out > 0) ov.hidden += now - ov.t_out;
    ov.t_out = 0;
}

double eva_comm_overlap_seconds(void) { return ov.hidden; }
void eva_comm_set_compress(eva_comm_compress c) { g.compress = c; }

static void overlap_free(void) {
    for (int i = 0; i < ov.cap; i++) eva_aligned_free(ov.stage[i]);
    free(ov.stage);
    free(ov.stage_n);
    free(ov.b);
    free(ov.w_all);
    ov.stage = NULL;
    ov.stage_n = NULL;
    ov.b = NULL;
    ov.w_all = ov.v_all = NULL;
    ov.cap = ov.nb = 0;
    ov.on = false;
}

eva_status eva_comm_overlap_begin(float *grad, int64_t total, double weight, const eva_param_ref *params, int n) {
    if (!g.active) return EVA_OK;
    fault_hook(params, n);   /* counted as one reduction, as eva_comm_allreduce_grads */
    if (g.world == 1) return EVA_OK;
    if (ov.on) return eva_fail(EVA_ERR_INVALID_ARG, "overlapped reduction: begin called twice");
    if (!ov.w_all && !(ov.w_all = malloc(sizeof(double) * 2 * (size_t)g.world)))
        return eva_fail(EVA_ERR_NOMEM, "out of memory");
    ov.v_all = ov.w_all + g.world;
    ov.grad = grad;
    ov.total = ov.lo = ov.hi = total;
    ov.nb = 0;
    ov.have_scale = false;
    ov.err = EVA_OK;
    ov.t_out = 0;
    ov.w_mine = weight;
    double t0 = op_begin("MPI_Iallgather (weights)");
    int rc = MPI_Iallgather(&ov.w_mine, 1, MPI_DOUBLE, ov.w_all, 1, MPI_DOUBLE, MPI_COMM_WORLD, &ov.wreq);
    op_end(t0);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallgather (weights)");
    ov.on = true;
    return EVA_OK;
}

/* s_me = w_me / sum w, waiting for the weight exchange posted by begin (the time spent here is
 * waiting for the slowest rank's forward). Inside an op_begin/op_end (watchdog armed). */
static eva_status ov_scale(void) {
    if (ov.have_scale) return EVA_OK;
    double t = eva_now_seconds();
    int rc = MPI_Wait(&ov.wreq, MPI_STATUS_IGNORE);
    g.wait_seconds += eva_now_seconds() - t;
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallgather (weights)");
    double wsum = 0;
    for (int r = 0; r < g.world; r++) wsum += ov.w_all[r];
    if (!(wsum > 0)) return eva_fail(EVA_ERR_INVALID_ARG, "gradient weights sum to %g over %d ranks", wsum, g.world);
    ov.wsum = wsum;
    ov.scale = ov.w_all[g.rank] / wsum;
    ov.have_scale = true;
    return EVA_OK;
}

static eva_status ov_grow(void) {
    if (ov.nb < ov.cap) return EVA_OK;
    int cap = ov.cap ? 2 * ov.cap : 16;
    ov_bucket *b = realloc(ov.b, sizeof *b * (size_t)cap);
    if (b) ov.b = b;
    uint16_t **st = realloc(ov.stage, sizeof *st * (size_t)cap);
    if (st) ov.stage = st;
    int64_t *sn = realloc(ov.stage_n, sizeof *sn * (size_t)cap);
    if (sn) ov.stage_n = sn;
    if (!b || !st || !sn) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    for (int i = ov.cap; i < cap; i++) {
        ov.stage[i] = NULL;
        ov.stage_n[i] = 0;
    }
    ov.cap = cap;
    return EVA_OK;
}

/* Scale grad[off, off + len) by s_me and post its reduction as bucket ov.nb. */
static eva_status ov_post(int64_t off, int64_t len) {
    eva_status st = ov_scale();
    if (st == EVA_OK) st = ov_grow();
    if (st != EVA_OK) return st;
    ov_bucket *bk = &ov.b[ov.nb];
    int W = g.world;
    float *p = ov.grad + off;
    double s = ov.scale;
    *bk = (ov_bucket){.off = off, .len = len, .S = (len + W - 1) / W, .phase = 1};
    int rc;
    if (g.compress == EVA_COMM_BF16) {
        int64_t need = 2 * bk->S * W;
        if (ov.stage_n[ov.nb] < need) {
            eva_aligned_free(ov.stage[ov.nb]);
            ov.stage_n[ov.nb] = 0;
            if (!(ov.stage[ov.nb] = eva_aligned_alloc(sizeof(uint16_t) * (size_t)need)))
                return eva_fail(EVA_ERR_NOMEM, "out of memory for the bf16 gradient buckets");
            ov.stage_n[ov.nb] = need;
        }
        uint16_t *send = ov.stage[ov.nb], *recv = send + bk->S * W;
        for (int64_t i = 0; i < len; i++) send[i] = to_bf16((float)((double)p[i] * s));
        for (int64_t i = len; i < bk->S * W; i++) send[i] = 0;
        rc = MPI_Ialltoall(send, (int)bk->S, MPI_UINT16_T, recv, (int)bk->S, MPI_UINT16_T, g.buckets, &bk->req);
    } else {
        for (int64_t i = 0; i < len; i++) p[i] = (float)((double)p[i] * s);
        rc = MPI_Iallreduce(MPI_IN_PLACE, p, (int)len, MPI_FLOAT, MPI_SUM, g.buckets, &bk->req);
    }
    if (rc != MPI_SUCCESS) return mpi_fail(rc, g.compress == EVA_COMM_BF16 ? "MPI_Ialltoall (bf16 gradients)" : "MPI_Iallreduce");
    ov.nb++;
    return EVA_OK;
}

/* The request of bucket k completed: next phase. */
static eva_status ov_advance(int k) {
    ov_bucket *bk = &ov.b[k];
    if (g.compress != EVA_COMM_BF16) {
        bk->phase = 3;
        return EVA_OK;
    }
    int W = g.world;
    int64_t S = bk->S;
    uint16_t *send = ov.stage[k], *recv = send + S * W;
    if (bk->phase == 1) {   /* my piece: sum of the W ranks' bf16 values in fp32, rounded once */
        uint16_t *mine = send + (int64_t)g.rank * S;
        for (int64_t i = 0; i < S; i++) {
            float acc = 0;
            for (int r = 0; r < W; r++) acc += from_bf16(recv[(int64_t)r * S + i]);
            mine[i] = to_bf16(acc);
        }
        int rc = MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, send, (int)S, MPI_UINT16_T, g.gathers, &bk->req);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallgather (bf16 gradients)");
        bk->phase = 2;
        return EVA_OK;
    }
    float *p = ov.grad + bk->off;
    for (int64_t i = 0; i < bk->len; i++) p[i] = from_bf16(send[i]);
    bk->phase = 3;
    return EVA_OK;
}

/* Test (or, with wait, complete) every bucket in flight, advancing finished ones. Collectives
 * must be posted in the same order on every rank, and completion order differs between ranks:
 * so the bf16 all-gathers (g.gathers) are posted strictly in bucket order (a bucket whose
 * all-to-all finished early waits in phase 1 with `a2a_done` until all before it are posted). */
static eva_status ov_progress_to(bool wait, int target) {
    bool in_order = true;   /* every bucket before k has left phase 1 */
    for (int k = 0; k < ov.nb; k++) {
        ov_bucket *bk = &ov.b[k];
        while (bk->phase < target) {
            if (!bk->a2a_done || bk->phase == 2) {
                int done = 1;
                int rc = wait ? MPI_Wait(&bk->req, MPI_STATUS_IGNORE) : MPI_Test(&bk->req, &done, MPI_STATUS_IGNORE);
                if (rc != MPI_SUCCESS) return mpi_fail(rc, "gradient reduction");
                if (!done) break;
                if (bk->phase == 1) bk->a2a_done = true;
            }
            if (bk->phase == 1 && !in_order) break;
            eva_status st = ov_advance(k);
            if (st != EVA_OK) return st;
        }
        if (bk->phase == 1) in_order = false;
    }
    return EVA_OK;
}

/* wait: every all-to-all first (posting the all-gathers in order), then the all-gathers, so
 * the buckets' second phases travel together instead of one after the other. */
static eva_status ov_progress(bool wait) {
    eva_status st = wait ? ov_progress_to(true, 2) : EVA_OK;
    return st == EVA_OK ? ov_progress_to(wait, 3) : st;
}

void eva_comm_grad_ready(void *user, int64_t begin, int64_t end) {
    (void)user;
    if (!ov.on || ov.err != EVA_OK) return;
    double t0 = op_begin("gradient buckets (backward hook)");
    ov_enter(t0);
    eva_status st = EVA_OK;
    if (end != ov.lo || begin > end || begin < 0)
        st = eva_fail(EVA_ERR_INVALID_ARG, "gradient range [%lld, %lld) reported out of order (expected one ending at %lld)",
                      (long long)begin, (long long)end, (long long)ov.lo);
    else
        ov.lo = begin;
    while (st == EVA_OK && ov.hi - ov.lo >= g.bucket) {
        st = ov_post(ov.hi - g.bucket, g.bucket);
        ov.hi -= g.bucket;
    }
    if (st == EVA_OK) st = ov_progress(false);
    op_end(t0);
    ov.err = st;
    for (int k = 0; k < ov.nb && st == EVA_OK; k++)
        if (ov.b[k].phase < 3) {
            ov.t_out = eva_now_seconds();
            break;
        }
}

eva_status eva_comm_overlap_finish(double *value, double *weight) {
    if (!ov.on) return EVA_OK;
    double t0 = op_begin("MPI_Iallreduce (gradients)");
    eva_status st = ov.err;
    if (st == EVA_OK && ov.lo != 0)
        st = eva_fail(EVA_ERR_INVALID_ARG, "the backward reported gradients [%lld, %lld) only", (long long)ov.lo,
                      (long long)ov.total);
    ov_enter(t0);
    while (st == EVA_OK && ov.hi > 0) {   /* the rest, in buckets, top down */
        int64_t len = EVA_MIN(g.bucket, ov.hi);
        st = ov_post(ov.hi - len, len);
        ov.hi -= len;
    }
    if (st == EVA_OK) st = ov_scale();   /* also when total is 0 */
    MPI_Request vreq;
    ov.v_mine = *value;
    if (st == EVA_OK) {
        int rc = MPI_Iallgather(&ov.v_mine, 1, MPI_DOUBLE, ov.v_all, 1, MPI_DOUBLE, MPI_COMM_WORLD, &vreq);
        if (rc != MPI_SUCCESS) st = mpi_fail(rc, "MPI_Iallgather (loss)");
        if (st == EVA_OK) st = ov_progress(true);
        if (st == EVA_OK && (rc = MPI_Wait(&vreq, MPI_STATUS_IGNORE)) != MPI_SUCCESS) st = mpi_fail(rc, "MPI_Iallgather (loss)");
    }
    op_end(t0);
    ov.on = false;
    if (st != EVA_OK) return st;
    double v = 0;
    for (int r = 0; r < g.world; r++) v += ov.w_all[r] / ov.wsum * ov.v_all[r];   /* rank order: as exchange_weights */
    *value = v;
    *weight = ov.wsum;
    return EVA_OK;
}
#endif
