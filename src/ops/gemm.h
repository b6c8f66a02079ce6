/* gemm.h — fp32 matrix products for the EVA forward pass.
 *
 * Shapes: M rows of activations (B*N tokens, e.g. 257 for one 224px image), K input features,
 * N output features. The weights W are PyTorch's Linear layout [N, K] (out, in), used straight
 * from the mmapped checkpoint: the fast path packs small W^T panels on the fly and never keeps
 * a second copy of the weights.
 *
 *   eva_gemm     C[M,N] (+)= A[M,K] · W[N,K]^T (+ bias[N]), epilogue fused into the tile store
 *   eva_gemm_nn  C[M,N] (+)= A[M,K] · B[K,N]              (attention / backward helpers)
 *
 * All matrices are row-major with leading dimensions in elements (lda >= K, ldw >= K,
 * ldb >= N, ldc >= N). C must not overlap A, W or B. Programming errors only (no user input
 * reaches these sizes unchecked), so nothing here returns a status.
 *
 * Kernels: "avx512" (14x32 register tile), "avx2" (6x16 tile, FMA), "reference" (triple loop,
 * double accumulation). The best one this CPU supports is picked once at first use; the
 * environment variable EVA_GEMM=ref|avx2|avx512 forces one (an unavailable choice falls back to
 * the best available). Tests and benchmarks can also force one with eva_gemm_force_kernel().
 *
 * Threading: pool may be NULL (single-threaded). Work is split over blocks of N (and of M for
 * large M) so batch-1 shapes keep every core busy; with one block of M the threads share the
 * 32-wide weight panels dynamically (panel_sched.h), so a descheduled thread does not hold up the
 * call. Which thread computes a panel never changes a bit of the result. Do not pass a pool from inside one of that
 * pool's own tasks (eva_pool_run is not re-entrant): pass NULL there. Any number of threads may
 * call these functions at once. Pack buffers (~1.5 MB) are per OS thread, allocated at its first
 * call and freed when the thread exits; if that allocation fails the call quietly computes with
 * the reference kernel instead (correct, slow). No other allocation happens per call.
 *
 * Numerics: fast kernels accumulate in fp32 in k order within blocks of <= 768 k (the result
 * differs from the double reference by a few ulps of sum_k |a||w|); the GELU epilogue uses the
 * vectorised erf of gemm_gelu_avx512.h / gemm_gelu_avx2.h (|diff| <= 2e-7·|x| against libm). */
#ifndef EVA_OPS_GEMM_H
#define EVA_OPS_GEMM_H

#include "base/base.h"

#include <stdbool.h>

typedef enum eva_gemm_epilogue {
    EVA_GEMM_STORE = 0,        /* C = A·W^T + bias            */
    EVA_GEMM_GELU = 1,         /* C = gelu_erf(A·W^T + bias)  exact erf GELU 0.5x(1+erf(x/sqrt2)) */
    EVA_GEMM_ACCUMULATE = 2,   /* C = C + A·W^T + bias        (residual add in place) */
} eva_gemm_epilogue;

/* Reference: double accumulation over k, then (float) sum + bias (+ C), GELU via libm erff. */
void eva_gemm_ref(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  const float *bias /* may be NULL */, float *C, int ldc, eva_gemm_epilogue epi);
void eva_gemm(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
              const float *bias, float *C, int ldc, eva_gemm_epilogue epi);

/* Plain C = A[M,K]·B[K,N] (accumulate: C += A·B), B row-major and not transposed. */
void eva_gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     bool accumulate);
void eva_gemm_nn(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate);

/* ---------------------------------------------------------------- weight panels
 * W[N,K] stored as ceil(N/32) panels of K x 32 floats: panel p, row k, lane j holds W[32p+j, k]
 * (0 where 32p+j >= N). That is the AVX-512 kernel's B layout, so eva_gemm_panels packs nothing
 * per call (at batch 1 the on-the-fly transposes of eva_gemm cost ~5-9 % of its time); a model
 * file converted with `eva convert --layout panels` holds its block matrices this way and is
 * used straight from the mmap. Results equal eva_gemm on the unpacked W bit for bit (same
 * kernel, same K blocks), and eva_gemm_panels_ref equals eva_gemm_ref. Wp must be 64-byte
 * aligned. */
#define EVA_PANEL_WIDTH 32
size_t eva_panels_floats(int N, int K);
void eva_pack_panels(int N, int K, const float *W, int ldw, float *Wp);
static inline float eva_panels_at(const float *Wp, int K, int n, int k) {
    return Wp[((size_t)(n / EVA_PANEL_WIDTH) * (size_t)K + (size_t)k) * EVA_PANEL_WIDTH + (size_t)(n % EVA_PANEL_WIDTH)];
}
/* Writes row n of W (K floats) into its place in Wp (padding lanes are left as they are). */
static inline void eva_panels_set_row(float *Wp, int K, int n, const float *row) {
    float *col = Wp + (size_t)(n / EVA_PANEL_WIDTH) * (size_t)K * EVA_PANEL_WIDTH + (size_t)(n % EVA_PANEL_WIDTH);
    for (int k = 0; k < K; k++) col[(size_t)k * EVA_PANEL_WIDTH] = row[k];
}
void eva_gemm_panels_ref(int M, int N, int K, const float *A, int lda, const float *Wp, const float *bias, float *C,
                         int ldc, eva_gemm_epilogue epi);
void eva_gemm_panels(eva_pool *pool, int M, int N, int K, const float *A, int lda, const float *Wp,
                     const float *bias, float *C, int ldc, eva_gemm_epilogue epi);

/* Which kernel the dispatcher picked: "avx512", "avx2" or "reference". */
const char *eva_gemm_kernel_name(void);

/* ---------------------------------------------------------------- kernel selection (tests) */
typedef enum eva_gemm_kernel {
    EVA_GEMM_KERNEL_REF = 0,
    EVA_GEMM_KERNEL_AVX2 = 1,
    EVA_GEMM_KERNEL_AVX512 = 2,
} eva_gemm_kernel;

bool eva_gemm_kernel_available(eva_gemm_kernel k);   /* compiled in and supported by this CPU */
/* Use kernel k from now on (process-wide; do not call while another thread is inside eva_gemm).
 * Returns false, changing nothing, when k is not available. */
bool eva_gemm_force_kernel(eva_gemm_kernel k);
/* Batch-1 shared A packing (gemm.c) on or off, for A/B benchmarks (bench/gemm_ab.c); the
 * default is on, EVA_GEMM_SHARE_A=0 starts it off. Same threading rule as above. */
void eva_gemm_set_share_a(bool on);

/* ---------------------------------------------------------------- GELU
 * Exact-erf GELU 0.5·x·(1 + erf(x/√2)). eva_gelu_ref uses libm erff (~30 ns per value here:
 * as costly as the whole fc1 GEMM if used in its epilogue); eva_gelu_inplace is the vectorised
 * version the fast GEMM epilogue uses (AVX-512 / AVX2 per the selected kernel, else libm;
 * |diff| <= 2e-7·|x| against eva_gelu_ref), usable on its own for an unfused GELU. */
float eva_gelu_ref(float x);
void eva_gelu_inplace(float *x, size_t n);

#endif /* EVA_OPS_GEMM_H */
