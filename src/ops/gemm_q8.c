/* gemm_q8.c — int8-weight GEMM: weight quantisation and packing, activation quantisation, the
 * plain C reference and the threaded driver around the AVX-512 VNNI tile (gemm_q8_avx512.c).
 * Shapes: C[M,N] (+)= A[M,K]·W[N,K]^T; the math is defined in gemm_lowp.h.
 *
 * Driver: A is quantised once per call into the workspace (u8, already in the kernel's
 * 12-row x 4-k interleaved layout), then tasks = row blocks x N chunks, or with one row block
 * the threads share the panels (panel_sched.h; as gemm.c). Each task
 * walks its weight panels (pre-packed at load, so nothing is packed per call) and for each panel
 * and K block of 1024 all 12-row tiles of its row block: the 32 KB weight sub-panel stays in L1,
 * the row block's quantised A slice (<= 768 KB) in L2, and the exact int32 sums of unfinished K
 * blocks wait in a per-thread buffer (measured: fc2, K = 6144, +10..20% over one pass of K). */
#include "ops/gemm_internal.h"
#include "ops/gemm_lowp.h"
#include "ops/panel_sched.h"

#include <math.h>
#include <string.h>

/* internal, gemm_q8_avx512.c */
void eva_q8_tile_avx512(int kq, const uint8_t *ap, const int8_t *bp, float *c, int ldc, int mr, int nr, int flags,
                        const float *ascale, const float *wscale, const int32_t *rowsum, const float *bias,
                        int32_t *part, const char *pf, int pf_lines);
void eva_q8_quantize_rows_avx512(int m0, int m1, int K, const float *A, int lda, const q8_ws_layout *L);

#define Q8_A_BLOCK_BYTES (768 * 1024)
/* K block (in k-quads) when K is long: the 32 x 4·KQ-byte weight sub-panel (32 KB) and the A
 * sub-panel stay in L1 across the row tiles; int32 partial sums wait in a per-task buffer. */
#define Q8_KQ_BLOCK 256

/* ---------------------------------------------------------------- weights */

float eva_q8_quantize_row(const float *w, int K, int8_t *q) {
    float mx = 0.0f;
    for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(w[k]));
    float ws = mx / 127.0f;
    for (int k = 0; k < K; k++) {
        long v = mx > 0.0f ? lrintf(w[k] / ws) : 0;
        q[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    return ws;
}

size_t eva_q8_padded_rows(int N) { return ((size_t)N + EVA_Q8_NR - 1) / EVA_Q8_NR * EVA_Q8_NR; }

size_t eva_q8_packed_bytes(int N, int K) { return eva_q8_padded_rows(N) * (((size_t)K + 3) / 4 * 4); }

void eva_q8_pack_row(int n, int K, const int8_t *q, float ws, int8_t *packed, float *scale, int32_t *rowsum) {
    size_t kq = ((size_t)K + 3) / 4;
    int8_t *panel = packed + (size_t)(n / EVA_Q8_NR) * kq * EVA_Q8_NR * 4 + (size_t)(n % EVA_Q8_NR) * 4;
    int32_t s = 0;
    for (int k = 0; k < K; k++) {
        panel[(size_t)(k / 4) * EVA_Q8_NR * 4 + (size_t)(k % 4)] = q[k];
        s += q[k];
    }
    scale[n] = ws;
    rowsum[n] = s;
}

/* ---------------------------------------------------------------- activations */

/* Bytes after the quantised A and its scales: per thread one row block x 32 int32 partial sums. */
static size_t q8_part_offset(size_t panels, size_t kq) {
    size_t a = (panels * kq * EVA_Q8_MR * 4 + 63) & ~(size_t)63;
    return a + ((panels * EVA_Q8_MR * sizeof(float) + 63) & ~(size_t)63);
}

size_t eva_gemm_q8_workspace(int M, int K, int threads) {
    size_t panels = ((size_t)M + EVA_Q8_MR - 1) / EVA_Q8_MR, kq = ((size_t)K + 3) / 4;
    return q8_part_offset(panels, kq) + (size_t)(threads > 0 ? threads : 1) * panels * EVA_Q8_MR * EVA_Q8_NR * 4 + 64;
}

q8_ws_layout eva_q8_ws_layout(int M, int K, void *workspace) {
    q8_ws_layout L;
    L.kq = ((size_t)K + 3) / 4;
    L.panels = ((size_t)M + EVA_Q8_MR - 1) / EVA_Q8_MR;
    L.aq = workspace;
    L.ascale = (float *)((uint8_t *)workspace + ((L.panels * L.kq * EVA_Q8_MR * 4 + 63) & ~(size_t)63));
    return L;
}

/* Rows m0..m1-1: as = max|a|/127, aq = rint(a · (127/max)) + 128 (padding k: 128 = zero). */
static void quantize_rows_ref(int m0, int m1, int K, const float *A, int lda, const q8_ws_layout *L) {
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        float mx = 0.0f;
        for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(a[k]));
        float inv = mx > 0.0f ? 127.0f / mx : 0.0f;
        L->ascale[m] = mx / 127.0f;
        uint8_t *dst = L->aq + (size_t)(m / EVA_Q8_MR) * L->kq * EVA_Q8_MR * 4 + (size_t)(m % EVA_Q8_MR) * 4;
        for (size_t k = 0; k < L->kq * 4; k++) {
            long v = (int)k < K ? lrintf(a[k] * inv) : 0;
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            dst[(k / 4) * EVA_Q8_MR * 4 + k % 4] = (uint8_t)(v + 128);
        }
    }
}

void eva_q8_quantize_act_ref(int M, int K, const float *A, int lda, void *workspace) {
    q8_ws_layout L = eva_q8_ws_layout(M, K, workspace);
    quantize_rows_ref(0, M, K, A, lda, &L);
}

/* ---------------------------------------------------------------- reference */

void eva_gemm_q8_ref(int M, int N, int K, const float *A, int lda, const eva_q8_weight *W, const float *bias,
                     float *C, int ldc, eva_gemm_epilogue epi, void *workspace) {
    if (M <= 0 || N <= 0) return;
    q8_ws_layout L = eva_q8_ws_layout(M, K, workspace);
    quantize_rows_ref(0, M, K, A, lda, &L);
    for (int m = 0; m < M; m++) {
        const uint8_t *arow = L.aq + (size_t)(m / EVA_Q8_MR) * L.kq * EVA_Q8_MR * 4 + (size_t)(m % EVA_Q8_MR) * 4;
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = 0; n < N; n++) {
            int32_t acc = 0;
            for (int k = 0; k < K; k++)
                acc += (int32_t)arow[(size_t)(k / 4) * EVA_Q8_MR * 4 + (size_t)(k % 4)] * (int32_t)eva_q8_at(W, n, k);
            acc -= 128 * W->rowsum[n];
            float v = (float)acc * (L.ascale[m] * W->scale[n]);
            if (bias) v = v + bias[n];
            if (epi == EVA_GEMM_ACCUMULATE) v = v + c[n];
            else if (epi == EVA_GEMM_GELU) v = eva_gelu_ref(v);
            c[n] = v;
        }
    }
}

/* ---------------------------------------------------------------- fast driver */

bool eva_gemm_q8_fast(void) {
    /* the fp32 dispatcher's AVX-512 check covers F/BW/DQ/VL/VNNI; EVA_GEMM=ref forces the
       reference here too */
#if defined(__x86_64__)
    return strcmp(eva_gemm_kernel_name(), "avx512") == 0;
#else
    return false;
#endif
}

typedef struct q8_job {
    int M, N, K;
    const float *A;
    int lda;
    const eva_q8_weight *W;
    const float *bias;
    float *C;
    int ldc;
    eva_gemm_epilogue epi;
    q8_ws_layout L;
    int32_t *part;        /* per thread: the row block's int32 partial sums of one panel */
    size_t part_stride;   /* int32 per thread */
    int mc, nchunks, npanels;
    int nranges; /* one row block: shared panels (panel_sched.h) */
    eva_panel_range *ranges;
} q8_job;

#if defined(__x86_64__)
static void q8_quant_task(void *ctx, int task, int thread) {
    (void)thread;
    const q8_job *j = ctx;
    int m0 = task * EVA_Q8_MR, m1 = EVA_MIN(j->M, m0 + EVA_Q8_MR);
    eva_q8_quantize_rows_avx512(m0, m1, j->K, j->A, j->lda, &j->L);
}

static _Atomic bool g_q8_prefetch = true;
void eva_gemm_q8_set_prefetch(bool on) { g_q8_prefetch = on; }

/* One weight panel p over rows [m0, m1), all K blocks, while panel next_p (-1: none) is
 * prefetched into L2, a slice of its lines per tile: the weights come from DRAM (1 GB of int8
 * for EVA-g, read once per call at batch 1) and without this the first row tile of every panel
 * waits on them. */
static void q8_panel(const q8_job *j, int32_t *part, int m0, int m1, int p, int next_p) {
    int kq = (int)j->L.kq;
    int flags = gemm_block_flags(j->epi, j->bias, 0, j->K, j->K);   /* one pass over K (int32 partials between blocks) */
    int kqb = kq > Q8_KQ_BLOCK ? Q8_KQ_BLOCK : kq;
    int n = p * EVA_Q8_NR, nr = EVA_MIN(EVA_Q8_NR, j->N - n);
    const int8_t *bp = j->W->packed + (size_t)p * (size_t)kq * EVA_Q8_NR * 4;
    const char *pf = next_p >= 0 && g_q8_prefetch
                         ? (const char *)(j->W->packed + (size_t)next_p * (size_t)kq * EVA_Q8_NR * 4)
                         : NULL;
    int pf_total = pf ? kq * EVA_Q8_NR * 4 / 64 : 0;
    int steps = ((kq + kqb - 1) / kqb) * ((m1 - m0 + EVA_Q8_MR - 1) / EVA_Q8_MR), step = 0;
    for (int q0 = 0; q0 < kq; q0 += kqb) {
        int qn = EVA_MIN(kqb, kq - q0);
        int f = (q0 + qn < kq ? Q8_F_PART_STORE : flags) | (q0 > 0 ? Q8_F_PART_LOAD : 0);
        for (int m = m0; m < m1; m += EVA_Q8_MR, step++) {
            int mr = EVA_MIN(EVA_Q8_MR, m1 - m);
            int l0 = (int)((long long)step * pf_total / steps), l1 = (int)((long long)(step + 1) * pf_total / steps);
            const uint8_t *ap = j->L.aq + ((size_t)(m / EVA_Q8_MR) * (size_t)kq + (size_t)q0) * EVA_Q8_MR * 4;
            eva_q8_tile_avx512(qn, ap, bp + (size_t)q0 * EVA_Q8_NR * 4, j->C + (size_t)m * (size_t)j->ldc + n, j->ldc,
                               mr, nr, f, j->L.ascale + m, j->W->scale + n, j->W->rowsum + n,
                               j->bias ? j->bias + n : NULL, part + (size_t)(m - m0) * EVA_Q8_NR,
                               pf ? pf + (size_t)l0 * 64 : NULL, l1 - l0);
        }
    }
}

/* Fixed split: task = one row block x one chunk of panels. */
static void q8_task(void *ctx, int task, int thread) {
    const q8_job *j = ctx;
    int mb = task / j->nchunks, ch = task % j->nchunks;
    int m0 = mb * j->mc, m1 = EVA_MIN(j->M, m0 + j->mc);
    int p0 = (int)((long long)ch * j->npanels / j->nchunks);
    int p1 = (int)((long long)(ch + 1) * j->npanels / j->nchunks);
    int32_t *part = j->part + (size_t)thread * j->part_stride;
    for (int p = p0; p < p1; p++) q8_panel(j, part, m0, m1, p, p + 1 < p1 ? p + 1 : -1);
}

/* One row block: the threads share the panels through panel_sched.h. */
static void q8_steal_task(void *ctx, int task, int thread) {
    const q8_job *j = ctx;
    int32_t *part = j->part + (size_t)thread * j->part_stride;
    int p, next;
    while ((p = eva_panel_take(j->ranges, j->nranges, task, &next)) >= 0) q8_panel(j, part, 0, j->M, p, next);
}

static int gcd_int(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

#endif

void eva_gemm_q8(eva_pool *pool, int M, int N, int K, const float *A, int lda, const eva_q8_weight *W,
                 const float *bias, float *C, int ldc, eva_gemm_epilogue epi, void *workspace) {
    if (M <= 0 || N <= 0) return;
#if defined(__x86_64__)
    if (!eva_gemm_q8_fast() || K <= 0) {
        eva_gemm_q8_ref(M, N, K, A, lda, W, bias, C, ldc, epi, workspace);
        return;
    }
    q8_job j = {.M = M, .N = N, .K = K, .A = A, .lda = lda, .W = W, .bias = bias, .C = C, .ldc = ldc, .epi = epi};
    j.L = eva_q8_ws_layout(M, K, workspace);
    j.part = (int32_t *)((uint8_t *)workspace + q8_part_offset(j.L.panels, j.L.kq));
    j.part_stride = j.L.panels * EVA_Q8_MR * EVA_Q8_NR;
    int threads = eva_pool_threads(pool);
    if ((double)M * N * K < 65536.0) threads = 1;
    eva_pool *use = threads > 1 ? pool : NULL;
    eva_pool_run(use, (int)j.L.panels, q8_quant_task, &j);
    /* row blocks: one K block of a row block's quantised A <= Q8_A_BLOCK_BYTES (stays in L2
       while the task walks its panels), in whole 12-row tiles */
    size_t a_bytes = (size_t)M * (size_t)EVA_MIN((int)j.L.kq, Q8_KQ_BLOCK) * 4;
    int mblocks = (int)((a_bytes + Q8_A_BLOCK_BYTES - 1) / Q8_A_BLOCK_BYTES);
    if (mblocks < 1) mblocks = 1;
    int rows = (M + mblocks - 1) / mblocks;
    j.mc = (rows + EVA_Q8_MR - 1) / EVA_Q8_MR * EVA_Q8_MR;
    mblocks = (M + j.mc - 1) / j.mc;
    j.npanels = (N + EVA_Q8_NR - 1) / EVA_Q8_NR;
    if (use && mblocks == 1 && threads <= EVA_PANEL_RANGES_MAX) {
        eva_panel_range ranges[EVA_PANEL_RANGES_MAX];
        eva_panel_ranges_init(ranges, threads, j.npanels);
        j.ranges = ranges;
        j.nranges = threads;
        eva_pool_run(use, threads, q8_steal_task, &j);
        return;
    }
    j.nchunks = EVA_MIN(threads / gcd_int(mblocks, threads), j.npanels);
    if (j.nchunks < 1) j.nchunks = 1;
    eva_pool_run(use, mblocks * j.nchunks, q8_task, &j);
#else
    eva_gemm_q8_ref(M, N, K, A, lda, W, bias, C, ldc, epi, workspace);
#endif
}
