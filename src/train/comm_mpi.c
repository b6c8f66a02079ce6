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
 *    gradient block is cut into buckets of EVA_COMM_BUCKET_MB (25 MB) and every bucket is
 *    posted as a non-blocking MPI_Iallreduce; all are waited for at the end. The scaling of
 *    bucket k+1 overlaps the transfer of bucket k. NOT overlapped with the backward: that would
 *    need per-layer hooks inside vit_train's backward (the last layers' gradients are final
 *    first); the all-reduce starts after the whole backward.
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
    double seconds;             /* time inside this file's collectives */
    double wait_seconds;        /* of which in the small weight exchange that starts each
                                 * reduction: mostly waiting for the slowest rank */
    double timeout;
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
    const char *s = getenv("EVA_COMM_TIMEOUT");
    g.timeout = s && atof(s) > 0 ? atof(s) : 300.0;
    s = getenv("EVA_COMM_BUCKET_MB");
    double mb = s && atof(s) > 0 ? atof(s) : 25.0;
    g.bucket = (int64_t)(mb * 1048576.0 / sizeof(float));
    if (g.bucket < 64 * g.world) g.bucket = 64 * (int64_t)g.world;
    if (g.bucket > (1 << 28)) g.bucket = 1 << 28;   /* MPI counts are int */
    g.bucket -= g.bucket % g.world;                  /* W pieces of S floats */
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

void eva_comm_finalize(void) {
    if (!g.active) return;
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
#endif
