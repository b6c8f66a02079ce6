/* gemm.c — blocked, threaded fp32 GEMM driver and kernel dispatch.
 * Shapes: C[M,N] (+)= A[M,K]·W[N,K]^T (TN, Linear layers) or A[M,K]·B[K,N] (NN).
 *
 * Blocking (per task = one block of <= MC rows x one chunk of N):
 *   for k0 in K step KC:                     KC <= 768 (default), K split into equal blocks;
 *                                            K <= 1536 in one block (GEMM_SINGLE_PASS_FLOATS)
 *     pack A[m0:m1, k0:k0+KC] into MR-row panels      (<= 1.5 MB, stays in L2)
 *     for n in chunk step NR:
 *       pack one B panel KC x NR (W^T, built on the fly from the mmapped weights; <= 96 KB)
 *       for m in block step MR: micro-kernel on the MR x NR tile of C
 *         (while prefetching the next panel's weight rows into L2)
 * KC: measured on the 2-core AVX-512 VM, 256 -> 768 made K = 6144 about 1.4x faster and K = 1408
 * about 1.2x (fewer read-modify-write passes over C, which lives in L3); EVA_GEMM_KC overrides
 * it for tuning.
 * Every weight element is read from memory once per row block (once per call at batch 1) and the
 * only copy of W^T ever held is one KC x NR panel (<= 96 KB) per thread. C is re-read once per
 * KC step; bias is added on the first K step and GELU applied on the last, inside the kernel's
 * store.
 *
 * Threads: with several row blocks, tasks = row blocks x N chunks, N chunks chosen so the task
 * count is a multiple of the thread count. With one row block (batch 1) the threads share the
 * weight panels of each K block through panel_sched.h, so a descheduled thread's panels are taken
 * over by the others instead of holding up the whole call. */
#include "ops/gemm_internal.h"
#include "ops/panel_sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_KC_MAX GEMM_KC_LIMIT
#define GEMM_MC_MAX 336 /* a multiple of both 14 and 6 */
#define GEMM_KC_DEFAULT 768
/* K up to GEMM_KC_MAX is done in one pass when the packed A block stays within ~1.5 MB of the
 * 2 MB L2 (mc x K floats): C is then written once instead of read back from L3 after the first
 * K block. Measured (one thread, hot weights, M = 257): qkv 1408->4224 and fc1 1408->6144 went
 * from 143-145 to 150-151 GFLOP/s; K = 6144 (fc2) keeps KC = 768, where 1536 was slower. */
#define GEMM_SINGLE_PASS_FLOATS (266 * 1408)

/* ---------------------------------------------------------------- kernel selection */

static atomic_int g_kernel = -1;
static int g_kc = GEMM_KC_DEFAULT;
static bool g_kc_forced; /* EVA_GEMM_KC set: exactly that block size, no single pass */
static atomic_bool g_share_a = true;
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;

bool eva_gemm_kernel_available(eva_gemm_kernel k) {
    switch (k) {
    case EVA_GEMM_KERNEL_REF: return true;
#if defined(__x86_64__)
    case EVA_GEMM_KERNEL_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case EVA_GEMM_KERNEL_AVX512:
        return eva_cpu_avx512(); /* gemm_avx512.c may use any of its compile flags */
#endif
    default: return false;
    }
}

static void gemm_init(void) {
    int best = eva_gemm_kernel_available(EVA_GEMM_KERNEL_AVX512) ? EVA_GEMM_KERNEL_AVX512
               : eva_gemm_kernel_available(EVA_GEMM_KERNEL_AVX2) ? EVA_GEMM_KERNEL_AVX2
                                                                  : EVA_GEMM_KERNEL_REF;
    const char *env = getenv("EVA_GEMM");
    if (env) {
        int want = !strcmp(env, "ref") || !strcmp(env, "reference") ? EVA_GEMM_KERNEL_REF
                   : !strcmp(env, "avx2")                           ? EVA_GEMM_KERNEL_AVX2
                   : !strcmp(env, "avx512")                         ? EVA_GEMM_KERNEL_AVX512
                                                                    : -1;
        if (want >= 0 && eva_gemm_kernel_available((eva_gemm_kernel)want)) best = want;
    }
    /* Tuning knob for benchmarks only: K block size (16..1024; multiples of 16 pack fastest). */
    const char *kc = getenv("EVA_GEMM_KC");
    if (kc) {
        int v = atoi(kc);
        if (v >= 16 && v <= GEMM_KC_MAX) {
            g_kc = v;
            g_kc_forced = true;
        }
    }
    const char *share = getenv("EVA_GEMM_SHARE_A");
    if (share && !strcmp(share, "0")) atomic_store(&g_share_a, false);
    int expected = -1;
    atomic_compare_exchange_strong(&g_kernel, &expected, best);
}

static int current_kernel(void) {
    pthread_once(&g_init_once, gemm_init);
    return atomic_load_explicit(&g_kernel, memory_order_relaxed);
}

void eva_gemm_set_share_a(bool on) {
    pthread_once(&g_init_once, gemm_init);
    atomic_store(&g_share_a, on);
}

bool eva_gemm_force_kernel(eva_gemm_kernel k) {
    pthread_once(&g_init_once, gemm_init);
    if (!eva_gemm_kernel_available(k)) return false;
    atomic_store(&g_kernel, (int)k);
    return true;
}

const char *eva_gemm_kernel_name(void) {
    switch (current_kernel()) {
    case EVA_GEMM_KERNEL_AVX512: return "avx512";
    case EVA_GEMM_KERNEL_AVX2: return "avx2";
    default: return "reference";
    }
}

static const gemm_isa *current_isa(void) {
    switch (current_kernel()) {
#if defined(__x86_64__)
    case EVA_GEMM_KERNEL_AVX512: return &eva_gemm_isa_avx512;
    case EVA_GEMM_KERNEL_AVX2: return &eva_gemm_isa_avx2;
#endif
    default: return NULL;
    }
}

/* ---------------------------------------------------------------- per-thread pack buffers
 * One fixed-size block per OS thread (A: MC_MAX x KC_MAX, B: KC_MAX x NR_MAX, ~1.5 MB),
 * allocated at the thread's first GEMM and freed by the key destructor when the thread exits.
 * posix_memalign rather than eva_malloc: a failure here is recovered from (reference path) and
 * must not overwrite the caller's last-error message. */

typedef struct gemm_bufs {
    float *a;
    float *b;
} gemm_bufs;

static pthread_key_t g_buf_key;
static bool g_buf_key_ok;
static pthread_once_t g_buf_once = PTHREAD_ONCE_INIT;

static void bufs_destroy(void *p) {
    gemm_bufs *b = p;
    free(b->a);
    free(b);
}

static void bufs_key_init(void) { g_buf_key_ok = pthread_key_create(&g_buf_key, bufs_destroy) == 0; }

static gemm_bufs *thread_bufs(void) {
    pthread_once(&g_buf_once, bufs_key_init);
    if (!g_buf_key_ok) return NULL;
    gemm_bufs *b = pthread_getspecific(g_buf_key);
    if (b) return b;
    b = malloc(sizeof *b);
    if (!b) return NULL;
    void *mem = NULL;
    size_t a_floats = (size_t)GEMM_MC_MAX * GEMM_KC_MAX;
    size_t b_floats = (size_t)GEMM_KC_MAX * GEMM_NR_MAX;
    if (posix_memalign(&mem, 64, (a_floats + b_floats) * sizeof(float)) != 0) {
        free(b);
        return NULL;
    }
    b->a = mem;
    b->b = b->a + a_floats;
    if (pthread_setspecific(g_buf_key, b) != 0) {
        bufs_destroy(b);
        return NULL;
    }
    return b;
}

/* ---------------------------------------------------------------- the blocked driver */

/* Row tiles of one shared row block: GEMM_MC_MAX rows in tiles of at least 4 (the narrowest
 * kernel, AVX2, has MR 6). */
#define GEMM_A_TILES_MAX (GEMM_MC_MAX / 4)
enum { A_CLAIMED = 1 << 8, A_PACKED = 1 << 9 };

typedef struct gemm_job {
    const gemm_isa *isa;
    int M, N, K;
    const float *A;
    int lda;
    const float *B; /* W[N,K] (TN) or B[K,N] (NN) */
    const float *panels; /* instead of B: W as weight panels (gemm.h) */
    int ldb;
    bool nn;
    const float *bias;
    float *C;
    int ldc;
    eva_gemm_epilogue epi;
    int kc, mc, nchunks, npanels;
    /* shared panels (batch 1): the K block being done and the panel ranges (panel_sched.h) */
    int k0, nranges;
    eva_panel_range *ranges;
    /* shared A packing (batch 1): per row tile of the K block, who packed it (A_PACKED | task)
     * into whose buffer; reset before every K block */
    _Atomic int a_state[GEMM_A_TILES_MAX];
    float *a_buf[EVA_PANEL_RANGES_MAX];
} gemm_job;

/* A[m0:m0+rows, k0:k0+kc] -> MR-row panels, panel p at out + p*MR*kc, element (k, i) at k*MR+i. */
static void pack_a(const gemm_isa *isa, int rows, int kc, const float *a, int lda, float *out) {
    const int MR = isa->mr;
    for (int p = 0; p < rows; p += MR) {
        int mr = EVA_MIN(MR, rows - p);
        const float *src = a + (size_t)p * (size_t)lda;
        float *dst = out + (size_t)p * (size_t)kc;
        if (isa->pack_a) {
            isa->pack_a(kc, src, lda, mr, dst);
            continue;
        }
        for (int i = 0; i < mr; i++) {
            const float *row = src + (size_t)i * (size_t)lda;
            for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = row[k];
        }
    }
}

static void reference_block(const gemm_job *j, int m0, int m1, int n0, int n1) {
    float *c = j->C + (size_t)m0 * (size_t)j->ldc + n0;
    const float *a = j->A + (size_t)m0 * (size_t)j->lda;
    if (j->panels) {
        eva_gemm_panels_ref_cols(m1 - m0, n0, n1, j->K, a, j->lda, j->panels, j->bias,
                                 j->C + (size_t)m0 * (size_t)j->ldc, j->ldc, j->epi);
    } else if (j->nn)
        eva_gemm_nn_ref(m1 - m0, n1 - n0, j->K, a, j->lda, j->B + n0, j->ldb, c, j->ldc,
                        j->epi == EVA_GEMM_ACCUMULATE);
    else
        eva_gemm_ref(m1 - m0, n1 - n0, j->K, a, j->lda, j->B + (size_t)n0 * (size_t)j->ldb, j->ldb,
                     j->bias ? j->bias + n0 : NULL, c, j->ldc, j->epi);
}

/* The row-tile loop of one packed weight panel (see gemm_internal.h). */
void eva_gemm_panel_tiles(const gemm_panel_tiles *t) {
    const int MR = t->mr_tile, NR = t->nr_tile, nr = t->nr;
    _Alignas(64) float tile[GEMM_MR_MAX * GEMM_NR_MAX];
    _Alignas(64) float tbias[GEMM_NR_MAX];
    const float *bias = t->bias;
    if (bias && nr < NR) {
        memset(tbias, 0, sizeof tbias);
        memcpy(tbias, bias, (size_t)nr * sizeof(float));
        bias = tbias;
    }
    int ntiles = (t->rows + MR - 1) / MR;
    gemm_prefetch pf = {.stride = t->pf_stride, .lines_per_row = t->pf_lines};
    for (int step = 0, tile_i = t->first_tile % ntiles; step < ntiles; step++, tile_i = tile_i + 1 < ntiles ? tile_i + 1 : 0) {
        int mr = EVA_MIN(MR, t->rows - tile_i * MR);
        const float *ap = t->tile_a ? t->tile_a(t->tile_ctx, tile_i) : t->ap + (size_t)tile_i * t->ap_stride;
        float *c = t->c + (size_t)tile_i * MR * (size_t)t->ldc;
        const gemm_prefetch *pfp = NULL;
        if (t->pf_rows > 0) {
            int r0 = tile_i * NR / ntiles, r1 = EVA_MIN((tile_i + 1) * NR / ntiles, t->pf_rows);
            pf.row = t->pf_src + (size_t)r0 * t->pf_stride;
            pf.rows = r1 - r0;
            pfp = pf.rows > 0 ? &pf : NULL;
        }
        if (nr == NR) {
            t->kernel(t->kc, ap, t->bp, c, t->ldc, mr, t->flags, bias, pfp);
            continue;
        }
        /* partial-width tile: go through a scratch tile so kernels only see full NR */
        if (t->flags & GEMM_F_LOAD_C) {
            for (int i = 0; i < mr; i++) {
                memcpy(tile + i * NR, c + (size_t)i * (size_t)t->ldc, (size_t)nr * sizeof(float));
                memset(tile + i * NR + nr, 0, (size_t)(NR - nr) * sizeof(float));
            }
        }
        t->kernel(t->kc, ap, t->bp, tile, NR, mr, t->flags, bias, pfp);
        for (int i = 0; i < mr; i++)
            memcpy(c + (size_t)i * (size_t)t->ldc, tile + i * NR, (size_t)nr * sizeof(float));
    }
}

/* One weight panel C[m0:m1, n:n+nr] over the K block [k0, k0+kc): pack W's panel (unless it is
 * stored as weight panels), then the row tiles of the packed A block in bufs->a, prefetching the
 * weights of panel next_n (-1: none). */
static void gemm_panel(const gemm_job *j, gemm_bufs *bufs, int m0, int m1, int n, int nr, int k0, int kc,
                       int flags, int next_n, const float *(*tile_a)(void *, int), void *tile_ctx, int first_tile) {
    const gemm_isa *isa = j->isa;
    const int NR = isa->nr;
    const float *bp = bufs->b;
    if (j->panels) {
        /* already the kernel's layout (NR == EVA_PANEL_WIDTH); narrower kernels copy their part */
        const float *src = j->panels + ((size_t)(n / EVA_PANEL_WIDTH) * (size_t)j->K + (size_t)k0) * EVA_PANEL_WIDTH +
                           n % EVA_PANEL_WIDTH;
        if (NR == EVA_PANEL_WIDTH) bp = src;
        else isa->pack_nn(kc, src, EVA_PANEL_WIDTH, nr, bufs->b);
    } else if (j->nn) {
        isa->pack_nn(kc, j->B + (size_t)k0 * (size_t)j->ldb + n, j->ldb, nr, bufs->b);
    } else {
        isa->pack_tn(kc, j->B + (size_t)n * (size_t)j->ldb + k0, j->ldb, nr, bufs->b);
    }
    if (j->nn || (j->panels && NR != EVA_PANEL_WIDTH)) next_n = -1;
    /* the next panel's weights: NR rows of W, or (panels) its kc x NR block seen as NR rows of kc */
    const float *next_src = next_n < 0 ? NULL
                            : j->panels ? j->panels + ((size_t)(next_n / EVA_PANEL_WIDTH) * (size_t)j->K + (size_t)k0) * EVA_PANEL_WIDTH
                                        : j->B + (size_t)next_n * (size_t)j->ldb + k0;
    gemm_panel_tiles t = {.kernel = isa->kernel, .mr_tile = isa->mr, .nr_tile = NR, .rows = m1 - m0, .kc = kc,
                          .ap = bufs->a, .ap_stride = (size_t)isa->mr * (size_t)kc, .bp = bp,
                          .c = j->C + (size_t)m0 * (size_t)j->ldc + n, .ldc = j->ldc, .nr = nr, .flags = flags,
                          .bias = (flags & GEMM_F_BIAS) ? j->bias + n : NULL, .pf_src = (const char *)next_src,
                          .pf_stride = (size_t)(j->panels ? kc : j->ldb) * sizeof(float),
                          .pf_lines = (int)(((size_t)kc * sizeof(float) + 63) / 64),
                          .pf_rows = next_n >= 0 ? EVA_MIN(NR, j->N - next_n) : 0, .tile_a = tile_a,
                          .tile_ctx = tile_ctx, .first_tile = first_tile};
    eva_gemm_panel_tiles(&t);
}

static int block_flags(const gemm_job *j, int k0, int kc) { return gemm_block_flags(j->epi, j->bias, k0, kc, j->K); }

/* Fixed split: task = one row block x one chunk of N, all K blocks. */
static void gemm_task(void *ctx, int task, int thread) {
    (void)thread;
    const gemm_job *j = ctx;
    const int NR = j->isa->nr;
    int mb = task / j->nchunks, ch = task % j->nchunks;
    int m0 = mb * j->mc, m1 = EVA_MIN(j->M, m0 + j->mc);
    int p0 = (int)((long long)ch * j->npanels / j->nchunks);
    int p1 = (int)((long long)(ch + 1) * j->npanels / j->nchunks);
    int n0 = p0 * NR, n1 = EVA_MIN(j->N, p1 * NR);
    if (m0 >= m1 || n0 >= n1) return;
    gemm_bufs *bufs = thread_bufs();
    if (!bufs) {
        reference_block(j, m0, m1, n0, n1);
        return;
    }
    for (int k0 = 0; k0 < j->K; k0 += j->kc) {
        int kc = EVA_MIN(j->kc, j->K - k0);
        pack_a(j->isa, m1 - m0, kc, j->A + (size_t)m0 * (size_t)j->lda + k0, j->lda, bufs->a);
        for (int n = n0; n < n1; n += NR)
            gemm_panel(j, bufs, m0, m1, n, EVA_MIN(NR, n1 - n), k0, kc, block_flags(j, k0, kc),
                       n + NR < n1 ? n + NR : -1, NULL, NULL, 0);
    }
}

/* Shared A packing. At batch 1 every thread multiplies the same rows by different weight panels,
 * so each used to pack all of A: the same work once per thread (2 % of a 224 px forward pass on
 * 2 threads). Now a thread packs a row tile only when its first weight panel reaches it, after
 * claiming it, and later panels read each tile from whichever thread's buffer holds it; the
 * first panel walks the tiles from tile self*ntiles/nthreads on, so threads claim disjoint
 * halves. A tile claimed but not yet packed by another thread (that thread descheduled, say) is
 * packed again privately instead of waited for: nobody ever waits. Bits are unchanged: a tile's
 * packed A is the same whoever packs it. */
typedef struct shared_a {
    gemm_job *j;
    gemm_bufs *bufs;
    int self, kc;
    const float *tile[GEMM_A_TILES_MAX]; /* resolved, for the panels after the first */
} shared_a;

static const float *shared_a_first(void *ctx, int tile) {
    shared_a *s = ctx;
    gemm_job *j = s->j;
    const int MR = j->isa->mr;
    size_t off = (size_t)tile * (size_t)MR * (size_t)s->kc;
    int st = atomic_load_explicit(&j->a_state[tile], memory_order_acquire);
    if (!st && atomic_compare_exchange_strong_explicit(&j->a_state[tile], &st, A_CLAIMED | s->self,
                                                        memory_order_acq_rel, memory_order_acquire))
        st = A_CLAIMED | s->self; /* ours to pack */
    if ((st & A_PACKED) && (st & 0xFF) != s->self) return s->tile[tile] = j->a_buf[st & 0xFF] + off;
    int rows = EVA_MIN(MR, j->M - tile * MR);
    pack_a(j->isa, rows, s->kc, j->A + (size_t)tile * (size_t)MR * (size_t)j->lda + j->k0, j->lda, s->bufs->a + off);
    if (st == (A_CLAIMED | s->self)) atomic_store_explicit(&j->a_state[tile], A_PACKED | s->self, memory_order_release);
    return s->tile[tile] = s->bufs->a + off;
}

static const float *shared_a_resolved(void *ctx, int tile) { return ((shared_a *)ctx)->tile[tile]; }

/* Shared panels (one row block, one K block j->k0): task `self` takes panels through
 * panel_sched.h; its first panel packs (its share of) A. */
static void steal_panels(gemm_job *j, gemm_bufs *bufs, int self) {
    const int NR = j->isa->nr, MR = j->isa->mr;
    int kc = EVA_MIN(j->kc, j->K - j->k0), flags = block_flags(j, j->k0, kc);
    int ntiles = (j->M + MR - 1) / MR;
    shared_a sa = {.j = j, .bufs = bufs, .self = self, .kc = kc};
    bool share = ntiles <= GEMM_A_TILES_MAX && self < EVA_PANEL_RANGES_MAX &&
                 atomic_load_explicit(&g_share_a, memory_order_relaxed);
    if (share) j->a_buf[self] = bufs->a; /* published by the release store of each packed tile */
    bool first = true;
    int p, next;
    while ((p = eva_panel_take(j->ranges, j->nranges, self, &next)) >= 0) {
        int n = p * NR;
        if (!share && first) pack_a(j->isa, j->M, kc, j->A + j->k0, j->lda, bufs->a);
        gemm_panel(j, bufs, 0, j->M, n, EVA_MIN(NR, j->N - n), j->k0, kc, flags, next >= 0 ? next * NR : -1,
                   !share ? NULL : first ? shared_a_first : shared_a_resolved, share ? &sa : NULL,
                   share && first ? (int)((long long)self * ntiles / j->nranges) : 0);
        first = false;
    }
}

static void gemm_steal_task(void *ctx, int task, int thread) {
    (void)thread;
    gemm_bufs *bufs = thread_bufs();
    if (bufs) steal_panels(ctx, bufs, task); /* else the caller takes what this task leaves */
}

int eva_gemm_blocking(int K, int mr, int *mc_max) {
    pthread_once(&g_init_once, gemm_init);
    *mc_max = GEMM_MC_MAX;
    if (K > g_kc && K <= GEMM_KC_MAX && !g_kc_forced) {
        *mc_max = EVA_MAX(mr, EVA_MIN(GEMM_MC_MAX, GEMM_SINGLE_PASS_FLOATS / K / mr * mr));
        return K;
    }
    /* equal K blocks of at most g_kc (a multiple of 16 where possible: full-width packing) */
    int kblocks = (K + g_kc - 1) / g_kc;
    int kc = ((K + kblocks - 1) / kblocks + 15) / 16 * 16;
    return kc > g_kc ? g_kc : kc;
}

static int gcd_int(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void gemm_run(eva_pool *pool, gemm_job *j) {
    const int MR = j->isa->mr, NR = j->isa->nr;
    int mc_max;
    j->kc = eva_gemm_blocking(j->K, MR, &mc_max);
    int mblocks = (j->M + mc_max - 1) / mc_max;
    int rows = (j->M + mblocks - 1) / mblocks;
    j->mc = (rows + MR - 1) / MR * MR;
    mblocks = (j->M + j->mc - 1) / j->mc;
    j->npanels = (j->N + NR - 1) / NR;
    int threads = eva_pool_threads(pool);
    /* tiny products are not worth waking the pool */
    if ((double)j->M * j->N * j->K < 65536.0) threads = 1;
    gemm_bufs *own = threads > 1 && mblocks == 1 && threads <= EVA_PANEL_RANGES_MAX ? thread_bufs() : NULL;
    if (own) {
        eva_panel_range ranges[EVA_PANEL_RANGES_MAX];
        j->ranges = ranges;
        j->nranges = threads;
        for (j->k0 = 0; j->k0 < j->K; j->k0 += j->kc) {
            eva_panel_ranges_init(ranges, threads, j->npanels);
            for (int t = 0; t < GEMM_A_TILES_MAX; t++) atomic_store_explicit(&j->a_state[t], 0, memory_order_relaxed);
            eva_pool_run(pool, threads, gemm_steal_task, j);
            steal_panels(j, own, 0); /* panels of tasks whose thread had no pack buffers */
        }
        return;
    }
    j->nchunks = EVA_MIN(threads / gcd_int(mblocks, threads), j->npanels);
    if (j->nchunks < 1) j->nchunks = 1;
    eva_pool_run(threads > 1 ? pool : NULL, mblocks * j->nchunks, gemm_task, j);
}

/* K == 0: the product is zero, only the epilogue remains. */
static void gemm_k0(int M, int N, const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    for (int m = 0; m < M; m++) {
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = 0; n < N; n++) {
            float v = bias ? bias[n] : 0.0f;
            if (epi == EVA_GEMM_ACCUMULATE) v += c[n];
            else if (epi == EVA_GEMM_GELU) v = eva_gelu_ref(v);
            c[n] = v;
        }
    }
}

/* C (+)= A·W^T with W as rows (ldw) or as weight panels (panels != NULL). */
static void gemm_tn(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                    const float *panels, const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        gemm_k0(M, N, bias, C, ldc, epi);
        return;
    }
    const gemm_isa *isa = current_isa();
    if (!isa) {
        if (panels) eva_gemm_panels_ref(M, N, K, A, lda, panels, bias, C, ldc, epi);
        else eva_gemm_ref(M, N, K, A, lda, W, ldw, bias, C, ldc, epi);
        return;
    }
    gemm_job j = {.isa = isa, .M = M, .N = N, .K = K, .A = A, .lda = lda, .B = W, .ldb = panels ? EVA_PANEL_WIDTH : ldw,
                  .panels = panels, .nn = false, .bias = bias, .C = C, .ldc = ldc, .epi = epi};
    gemm_run(pool, &j);
}

void eva_gemm(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
              const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    gemm_tn(pool, M, N, K, A, lda, W, ldw, NULL, bias, C, ldc, epi);
}

void eva_gemm_panels(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *Wp,
                     const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    gemm_tn(pool, M, N, K, A, lda, NULL, 0, Wp, bias, C, ldc, epi);
}

void eva_gemm_nn(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate) {
    if (M <= 0 || N <= 0) return;
    eva_gemm_epilogue epi = accumulate ? EVA_GEMM_ACCUMULATE : EVA_GEMM_STORE;
    if (K <= 0) {
        gemm_k0(M, N, NULL, C, ldc, epi);
        return;
    }
    const gemm_isa *isa = current_isa();
    if (!isa) {
        eva_gemm_nn_ref(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
        return;
    }
    gemm_job j = {.isa = isa, .M = M, .N = N, .K = K, .A = A, .lda = lda, .B = B, .ldb = ldb, .nn = true,
                  .bias = NULL, .C = C, .ldc = ldc, .epi = epi};
    gemm_run(pool, &j);
}

void eva_gelu_inplace(float *x, size_t n) {
#if defined(__x86_64__)
    if (current_kernel() == EVA_GEMM_KERNEL_AVX512) {
        eva_gelu_avx512(x, n);
        return;
    }
    if (current_kernel() == EVA_GEMM_KERNEL_AVX2) {
        eva_gelu_avx2(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) x[i] = eva_gelu_ref(x[i]);
}
