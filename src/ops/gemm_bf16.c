/* gemm_bf16.c — bf16-weight GEMM: the plain C reference, the choice of bf16 math, and the
 * threaded driver that feeds either micro-kernel.
 * Shapes: C[M,N] (+)= A[M,K]·W[N,K]^T, W as bf16 bits (gemm_lowp.h).
 *
 * Two ways to multiply by bf16 weights (eva_bf16_math, gemm_lowp.h):
 *   widen  the bf16 rows are widened to fp32 while a weight panel is packed and the fp32 14 x 32
 *          kernel (gemm_avx512.c) runs on fp32 activations: half the weight bytes of fp32, the
 *          same FMA rate, results bit-identical to eva_gemm on the widened weights.
 *   dot    activations are rounded to bf16 as A is packed and vdpbf16ps multiplies bf16 pairs
 *          into fp32 sums (gemm_bf16dot_kernel.h): two k steps per instruction, so twice the
 *          FLOP rate where the instruction issues like an FMA — the default only where a timed
 *          loop shows that (below). Without the instruction the same kernel runs on an exact
 *          emulation (EVA_BF16=dot), slower than widen.
 *
 * Driver (mirrors gemm.c: same K blocks and EVA_GEMM_KC override):
 *   A is packed once per call into the workspace (all k blocks, shared by every thread, instead
 *   of once per thread); tasks = row blocks x N chunks, or with one row block (batch 1) the
 *   threads share each K block's panels through panel_sched.h; per k block and per 32-wide weight
 *   panel, the thread packs the bf16 rows into its own panel (widened or as bf16 pairs), then
 *   runs the 14 x 32 kernel over its row tiles while prefetching the next panel's bf16 rows. */
#include "ops/gemm_internal.h"
#include "ops/gemm_lowp.h"
#include "ops/panel_sched.h"
#include "ops/peak.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* internal, gemm_bf16_avx512.c: out[k*32 + j] = widen(w[j*ldw + k]), j < nr (else 0) */
void eva_bf16_pack_tn_avx512(int kc, const uint16_t *w, int ldw, int nr, float *out);

#define BF16_KC_MAX GEMM_KC_LIMIT

void eva_f32_to_bf16_n(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = eva_f32_to_bf16(src[i]);
}

void eva_round_bf16_n(const float *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        if ((u & 0x7f800000u) != 0x7f800000u)   /* finite: round the low 16 bits away, ties to even */
            u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        else if (u & 0x007fffffu)
            u |= 0x00400000u;                    /* NaN: keep it a (quiet) NaN after truncation */
        u &= 0xffff0000u;
        memcpy(&dst[i], &u, 4);
    }
}

/* ---------------------------------------------------------------- which bf16 math
 * vdpbf16ps is not fast everywhere: on Intel Sapphire/Emerald Rapids it issues at half the rate
 * of an fp32 FMA, so its two products per lane only tie fp32 — measured here on an Emerald
 * Rapids VM: 86 vs 176 GFLOP/s per core, i.e. dot math would be ~2x slower than widen — while
 * by public reports AMD Zen 4/5 run it at the FMA rate (2x fp32; not measured here). So the default is measured, not assumed: dot
 * only where its loop beats the fp32 FMA loop by 20 %, timed once (~1 ms) at the first call;
 * whether the instruction may run at all is eva_bf16_dot_usable() (peak.c). */

bool eva_gemm_bf16_math_available(eva_bf16_math m) {
    switch (m) {
    case EVA_BF16_MATH_WIDEN: return true;
    case EVA_BF16_MATH_DOT_EMULATED: return eva_gemm_bf16_fast();
    case EVA_BF16_MATH_DOT: return eva_gemm_bf16_fast() && eva_bf16_dot_usable();
    default: return false;
    }
}

static atomic_int g_math = -1;
static pthread_once_t g_math_once = PTHREAD_ONCE_INIT;
static char g_math_why[160] = "";

/* bf16 dot-product FLOP rate / fp32 FMA FLOP rate of this core: the peak probe's loops on the
 * calling thread (pool NULL), ~1 ms. */
static double dot_vs_fma_ratio(void) {
    double fma = eva_peak_fp32_gflops(NULL, 0.0005, NULL);
    return fma > 0 ? eva_peak_bf16_gflops(NULL, 0.0005) / fma : 0;
}

static void math_init(void) {
    int m = EVA_BF16_MATH_WIDEN;
    const char *env = getenv("EVA_BF16");
    bool hw = eva_gemm_bf16_math_available(EVA_BF16_MATH_DOT);
    if (env && !strcmp(env, "widen")) {
        snprintf(g_math_why, sizeof g_math_why, "EVA_BF16=widen");
    } else if (env && (!strcmp(env, "dot") || !strcmp(env, "dot-force")) && eva_gemm_bf16_fast()) {
        m = hw ? EVA_BF16_MATH_DOT : EVA_BF16_MATH_DOT_EMULATED;
        snprintf(g_math_why, sizeof g_math_why, "EVA_BF16=%s%s", env, hw ? "" : ", no avx512_bf16: emulated");
    } else if (hw) {
        double ratio = dot_vs_fma_ratio();
        if (ratio >= 1.2) m = EVA_BF16_MATH_DOT;
        snprintf(g_math_why, sizeof g_math_why, "vdpbf16ps measured at %.2fx the fp32 FMA rate", ratio);
    } else {
        snprintf(g_math_why, sizeof g_math_why, "%s", eva_gemm_bf16_fast() ? "no avx512_bf16" : "no AVX-512");
    }
    int expected = -1;
    atomic_compare_exchange_strong(&g_math, &expected, m);
}

eva_bf16_math eva_gemm_bf16_math(void) {
    pthread_once(&g_math_once, math_init);
    return (eva_bf16_math)atomic_load_explicit(&g_math, memory_order_relaxed);
}

bool eva_gemm_bf16_set_math(eva_bf16_math m) {
    pthread_once(&g_math_once, math_init);
    if (!eva_gemm_bf16_math_available(m)) return false;
    atomic_store(&g_math, (int)m);
    return true;
}

const eva_bf16dot_isa *eva_bf16dot_hw_isa(void) {
#if defined(__x86_64__) && defined(EVA_HAVE_AVX512BF16)
    return &eva_bf16dot_isa_hw;
#else
    return NULL;
#endif
}

void eva_gemm_bf16_set_math_unchecked(eva_bf16_math m) {
    pthread_once(&g_math_once, math_init);
    atomic_store(&g_math, (int)m);
}

const char *eva_gemm_bf16_math_name(void) {
    switch (eva_gemm_bf16_math()) {
    case EVA_BF16_MATH_DOT: return "vdpbf16ps (bf16 activations)";
    case EVA_BF16_MATH_DOT_EMULATED: return "vdpbf16ps emulated (bf16 activations)";
    default: return eva_gemm_bf16_fast() ? "widened to fp32" : "reference";
    }
}

const char *eva_gemm_bf16_math_reason(void) {
    pthread_once(&g_math_once, math_init);
    return g_math_why;
}

/* ---------------------------------------------------------------- reference */

void eva_gemm_bf16_ref(int M, int N, int K, const float *A, int lda, const uint16_t *W, int ldw, const float *bias,
                       float *C, int ldc, eva_gemm_epilogue epi) {
    bool round_a = eva_gemm_bf16_math() != EVA_BF16_MATH_WIDEN;
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = 0; n < N; n++) {
            const uint16_t *w = W + (size_t)n * (size_t)ldw;
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float ak = a[k];
                if (round_a) eva_round_bf16_n(&ak, &ak, 1);
                acc += (double)ak * (double)eva_bf16_to_f32(w[k]);
            }
            float v = (float)acc;
            if (bias) v += bias[n];
            if (epi == EVA_GEMM_ACCUMULATE) v += c[n];
            else if (epi == EVA_GEMM_GELU) v = eva_gelu_ref(v);
            c[n] = v;
        }
    }
}

/* ---------------------------------------------------------------- fast driver */

bool eva_gemm_bf16_fast(void) {
#if defined(__x86_64__)
    return strcmp(eva_gemm_kernel_name(), "avx512") == 0;
#else
    return false;
#endif
}

size_t eva_gemm_bf16_workspace(int M, int K, int threads) {
    size_t panels = ((size_t)M + GEMM_MR_MAX - 1) / GEMM_MR_MAX;
    size_t a = (panels * GEMM_MR_MAX * (size_t)(K > 0 ? K : 1) * sizeof(float) + 63) & ~(size_t)63;
    return a + (size_t)(threads > 0 ? threads : 1) * BF16_KC_MAX * GEMM_NR_MAX * sizeof(float);
}

#if defined(__x86_64__)
typedef struct bf16_job {
    const gemm_isa *isa;
    int M, N, K;
    const float *A;
    int lda;
    const uint16_t *W;
    int ldw;
    const float *bias;
    float *C;
    int ldc;
    eva_gemm_epilogue epi;
    int kc, kblocks, mc, mpanels, nchunks, npanels;
    float *ap;      /* packed A: k block b at ap + b*mpanels*MR*kw(kc), panel p at + p*MR*kw(kcb) */
    float *bpanel;  /* per thread: BF16_KC_MAX * NR floats */
    /* dot math: bf16-pair kernel and packing; NULL: widen to fp32 (isa->kernel, isa->pack_a) */
    const eva_bf16dot_isa *dot;
    /* shared panels (one row block): the K block being done and the ranges (panel_sched.h) */
    int kb, nranges;
    eva_panel_range *ranges;
} bf16_job;

/* 32-bit words per row and k block of kc in the packed A and B panels: one per k (fp32), one
 * per k pair (bf16 pairs). */
static size_t kwords(const bf16_job *j, int kc) { return j->dot ? (size_t)(kc + 1) / 2 : (size_t)kc; }

static void bf16_pack_a_task(void *ctx, int task, int thread) {
    (void)thread;
    const bf16_job *j = ctx;
    const int MR = j->isa->mr;
    int kb = task / j->mpanels, p = task % j->mpanels;
    int k0 = kb * j->kc, kcb = EVA_MIN(j->kc, j->K - k0);
    int mr = EVA_MIN(MR, j->M - p * MR);
    float *out = j->ap + (size_t)kb * (size_t)j->mpanels * MR * kwords(j, j->kc) + (size_t)p * MR * kwords(j, kcb);
    const float *a = j->A + (size_t)p * MR * (size_t)j->lda + k0;
    if (j->dot)
        j->dot->pack_a(kcb, a, j->lda, mr, out);
    else
        j->isa->pack_a(kcb, a, j->lda, mr, out);
}

/* One weight panel C[m0:m1, n:n+nr] over K block kb: pack its bf16 rows into bp (widened or as
 * pairs), then the row tiles (gemm.c), prefetching panel next_n's rows (-1: none). */
static void bf16_panel(const bf16_job *j, float *bp, int m0, int m1, int n, int nr, int kb, int next_n) {
    const gemm_isa *isa = j->isa;
    const int MR = isa->mr, NR = isa->nr;
    int k0 = kb * j->kc, kc = EVA_MIN(j->kc, j->K - k0), flags = gemm_block_flags(j->epi, j->bias, k0, kc, j->K);
    const float *ablock = j->ap + (size_t)kb * (size_t)j->mpanels * MR * kwords(j, j->kc);
    const uint16_t *w = j->W + (size_t)n * (size_t)j->ldw + k0;
    if (j->dot)
        j->dot->pack_b(kc, w, j->ldw, nr, bp);
    else
        eva_bf16_pack_tn_avx512(kc, w, j->ldw, nr, bp);
    gemm_panel_tiles t = {.kernel = j->dot ? j->dot->kernel : isa->kernel, .mr_tile = MR, .nr_tile = NR,
                          .rows = m1 - m0, .kc = kc, .ap = ablock + (size_t)(m0 / MR) * MR * kwords(j, kc),
                          .ap_stride = (size_t)MR * kwords(j, kc), .bp = bp,
                          .c = j->C + (size_t)m0 * (size_t)j->ldc + n, .ldc = j->ldc, .nr = nr, .flags = flags,
                          .bias = (flags & GEMM_F_BIAS) ? j->bias + n : NULL,
                          .pf_src = next_n >= 0 ? (const char *)(j->W + (size_t)next_n * (size_t)j->ldw + k0) : NULL,
                          .pf_stride = (size_t)j->ldw * sizeof(uint16_t),
                          .pf_lines = (int)(((size_t)kc * sizeof(uint16_t) + 63) / 64),
                          .pf_rows = next_n >= 0 ? EVA_MIN(NR, j->N - next_n) : 0};
    eva_gemm_panel_tiles(&t);
}

/* Fixed split: task = one row block x one chunk of N, all K blocks. */
static void bf16_task(void *ctx, int task, int thread) {
    const bf16_job *j = ctx;
    const int NR = j->isa->nr;
    int mb = task / j->nchunks, ch = task % j->nchunks;
    int m0 = mb * j->mc, m1 = EVA_MIN(j->M, m0 + j->mc);
    int p0 = (int)((long long)ch * j->npanels / j->nchunks);
    int p1 = (int)((long long)(ch + 1) * j->npanels / j->nchunks);
    int n0 = p0 * NR, n1 = EVA_MIN(j->N, p1 * NR);
    if (m0 >= m1 || n0 >= n1) return;
    float *bp = j->bpanel + (size_t)thread * BF16_KC_MAX * NR;
    for (int kb = 0; kb < j->kblocks; kb++)
        for (int n = n0; n < n1; n += NR)
            bf16_panel(j, bp, m0, m1, n, EVA_MIN(NR, n1 - n), kb, n + NR < n1 ? n + NR : -1);
}

/* Shared panels of K block j->kb (one row block): see panel_sched.h. */
static void bf16_steal_task(void *ctx, int task, int thread) {
    const bf16_job *j = ctx;
    const int NR = j->isa->nr;
    float *bp = j->bpanel + (size_t)thread * BF16_KC_MAX * NR;
    int p, next;
    while ((p = eva_panel_take(j->ranges, j->nranges, task, &next)) >= 0)
        bf16_panel(j, bp, 0, j->M, p * NR, EVA_MIN(NR, j->N - p * NR), j->kb, next >= 0 ? next * NR : -1);
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

void eva_gemm_bf16(eva_pool *pool, int M, int N, int K, const float *A, int lda, const uint16_t *W, int ldw,
                   const float *bias, float *C, int ldc, eva_gemm_epilogue epi, void *workspace) {
    if (M <= 0 || N <= 0) return;
#if defined(__x86_64__)
    if (!eva_gemm_bf16_fast() || K <= 0) {
        eva_gemm_bf16_ref(M, N, K, A, lda, W, ldw, bias, C, ldc, epi);
        return;
    }
    const gemm_isa *isa = &eva_gemm_isa_avx512;
    const int MR = isa->mr, NR = isa->nr;
    bf16_job j = {.isa = isa, .M = M, .N = N, .K = K, .A = A, .lda = lda, .W = W, .ldw = ldw, .bias = bias,
                  .C = C, .ldc = ldc, .epi = epi};
    switch (eva_gemm_bf16_math()) {
#if defined(EVA_HAVE_AVX512BF16)
    case EVA_BF16_MATH_DOT: j.dot = &eva_bf16dot_isa_hw; break;
#endif
    case EVA_BF16_MATH_DOT_EMULATED: j.dot = &eva_bf16dot_isa_emulated; break;
    default: break;
    }
    int mc_max;
    j.kc = eva_gemm_blocking(K, MR, &mc_max);
    j.kblocks = (K + j.kc - 1) / j.kc;
    j.mpanels = (M + MR - 1) / MR;
    int mblocks = (M + mc_max - 1) / mc_max;
    int rows = (M + mblocks - 1) / mblocks;
    j.mc = (rows + MR - 1) / MR * MR;
    mblocks = (M + j.mc - 1) / j.mc;
    j.npanels = (N + NR - 1) / NR;
    int threads = eva_pool_threads(pool);
    if ((double)M * N * K < 65536.0) threads = 1;
    eva_pool *use = threads > 1 ? pool : NULL;
    j.nchunks = EVA_MIN(threads / gcd_int(mblocks, threads), j.npanels);
    if (j.nchunks < 1) j.nchunks = 1;
    j.ap = workspace;
    j.bpanel = (float *)((char *)workspace +
                         (((size_t)j.mpanels * MR * (size_t)K * sizeof(float) + 63) & ~(size_t)63));
    eva_pool_run(use, j.kblocks * j.mpanels, bf16_pack_a_task, &j);
    if (use && mblocks == 1 && threads <= EVA_PANEL_RANGES_MAX) {
        eva_panel_range ranges[EVA_PANEL_RANGES_MAX];
        j.ranges = ranges;
        j.nranges = threads;
        for (j.kb = 0; j.kb < j.kblocks; j.kb++) {
            eva_panel_ranges_init(ranges, threads, j.npanels);
            eva_pool_run(use, threads, bf16_steal_task, &j);
        }
        return;
    }
    eva_pool_run(use, mblocks * j.nchunks, bf16_task, &j);
#else
    (void)pool;
    (void)workspace;
    eva_gemm_bf16_ref(M, N, K, A, lda, W, ldw, bias, C, ldc, epi);
#endif
}
