/* gemm_lowp.h — low-precision weight GEMMs for inference: bf16 weights (widened to fp32 while a
 * weight panel is packed, fp32 FMA math) and int8 weights (per-output-channel symmetric scales,
 * activations quantised per row on the fly, int32 accumulation with AVX-512 VNNI vpdpbusd).
 *
 * Shapes as in gemm.h: C[M,N] (+)= A[M,K] · W[N,K]^T (+ bias[N]) with the same epilogues
 * (STORE, GELU, ACCUMULATE). M = B*N tokens (257 for one 224px image), K in, N out features.
 *
 * bf16 (W as uint16 bf16 bits, [N,K] row-major, ldw >= K; zero-copy from a BF16 file), two maths
 * (eva_bf16_math; default: DOT where the CPU has avx512_bf16 AND a timed loop shows vdpbf16ps
 * beating the fp32 FMA by 20 % — AMD Zen 4/5, not Intel Sapphire/Emerald Rapids, where it runs at
 * half rate — else WIDEN; EVA_BF16=widen|dot|dot-force overrides):
 *   WIDEN   fp32 activations x widened weights: eva_gemm_bf16 computes exactly what eva_gemm
 *           computes with W widened to fp32 (same K blocking, same AVX-512 micro-kernel,
 *           bit-identical results), reading half the weight bytes.
 *   DOT     activations rounded to bf16 (nearest even) x bf16 weights, fp32 sums, with
 *           vdpbf16ps (DOT) or its exact AVX-512F emulation (DOT_EMULATED: tests, and EVA_BF16=dot
 *           on CPUs without the instruction). The emulation agrees with the instruction bit for
 *           bit except for values below 2^-126, which the instruction flushes to zero.
 *   On CPUs without the AVX-512 fp32 kernel (or EVA_GEMM=ref) it runs eva_gemm_bf16_ref
 *   (double accumulation of the widened weights, like eva_gemm_ref; in DOT maths the
 *   activations are rounded to bf16 first).
 *
 * q8 (eva_q8_weight, built once at load by eva_q8_pack):
 *   weights   w[n,k] ≈ wq[n,k] · ws[n],  ws[n] = max_k |w[n,k]| / 127, wq = rint(w / ws) in [-127, 127]
 *   activations per row m: as[m] = max_k |a[m,k]| / 127, aq = rint(a · (127 / max)) in [-127, 127],
 *             stored as u8 aq + 128 (vpdpbusd multiplies u8 by s8)
 *   product   acc[m,n] = Σ_k (aq+128)·wq - 128·rowsum[n]   (exact in int32: |acc| < 2^31 for K <= 66000)
 *             c = (float)acc · (as[m] · ws[n]) (+ bias[n]) (+ c) (GELU)
 *   eva_gemm_q8_ref does the same integer math in plain C: fast and reference agree bit for bit
 *   for STORE and ACCUMULATE, and within the vector GELU's 2e-7·|x| for GELU.
 *   Packed weight layout (for the 12 x 32 VNNI tile): panel p of 32 output rows, k-quad q:
 *     packed[((p·Kq + q)·32 + j)·4 + r] = wq[32p + j, 4q + r]   (zero beyond N and K), Kq = ceil(K/4)
 *
 * Workspace: the q8 GEMM quantises A into caller memory of eva_gemm_q8_workspace(M, K, threads)
 * bytes (plus per-thread int32 partial sums of K blocks of 1024);
 * the bf16 GEMM packs A once per call (shared by the threads) and keeps one weight panel per
 * thread in eva_gemm_bf16_workspace(M, K, threads) bytes (threads = eva_pool_threads(pool)).
 * Both must be 64-byte aligned. No allocation happens inside these calls. */
#ifndef EVA_OPS_GEMM_LOWP_H
#define EVA_OPS_GEMM_LOWP_H

#include "ops/gemm.h"

#include <stdint.h>

/* ---------------------------------------------------------------- bf16 */

typedef enum eva_bf16_math {
    EVA_BF16_MATH_WIDEN = 0,        /* fp32 activations, weights widened: exact vs fp32 math */
    EVA_BF16_MATH_DOT_EMULATED = 1, /* bf16 activations, vdpbf16ps emulated in AVX-512F */
    EVA_BF16_MATH_DOT = 2,          /* bf16 activations, vdpbf16ps (avx512_bf16) */
} eva_bf16_math;
eva_bf16_math eva_gemm_bf16_math(void);
bool eva_gemm_bf16_math_available(eva_bf16_math m);
/* Process-wide switch (tests, benchmarks); false if m cannot run on this CPU / build. */
bool eva_gemm_bf16_set_math(eva_bf16_math m);
/* Tests only: switch without asking the CPU (after checking that the instruction executes). */
void eva_gemm_bf16_set_math_unchecked(eva_bf16_math m);
const char *eva_gemm_bf16_math_name(void);
/* Why the current math was chosen, e.g. "vdpbf16ps measured at 0.49x the fp32 FMA rate". */
const char *eva_gemm_bf16_math_reason(void);

size_t eva_gemm_bf16_workspace(int M, int K, int threads);
void eva_gemm_bf16_ref(int M, int N, int K, const float *A, int lda, const uint16_t *W, int ldw, const float *bias,
                       float *C, int ldc, eva_gemm_epilogue epi);
void eva_gemm_bf16(eva_pool *pool, int M, int N, int K, const float *A, int lda, const uint16_t *W, int ldw,
                   const float *bias, float *C, int ldc, eva_gemm_epilogue epi, void *workspace);
/* fp32 -> bf16 (round to nearest even) of n values. */
void eva_f32_to_bf16_n(const float *src, uint16_t *dst, size_t n);
/* dst = src rounded to the nearest bf16 (ties to even), kept as fp32: what a bf16 operand of a
 * mixed-precision product holds. NaN stays NaN. src == dst allowed. */
void eva_round_bf16_n(const float *src, float *dst, size_t n);

/* ---------------------------------------------------------------- int8 */

#define EVA_Q8_NR 32   /* output rows per packed panel */
#define EVA_Q8_MR 12   /* activation rows per quantised A panel */

typedef struct eva_q8_weight {
    int N, K;
    const int8_t *packed;    /* ceil(N/32) panels x ceil(K/4) quads x 32 x 4 */
    const float *scale;      /* [ceil(N/32)*32] ws (0 beyond N) */
    const int32_t *rowsum;   /* [ceil(N/32)*32] Σ_k wq[n,k] (0 beyond N) */
} eva_q8_weight;

/* Per-row symmetric quantisation of one weight row of K values: returns ws, writes wq. */
float eva_q8_quantize_row(const float *w, int K, int8_t *q);
/* Sizes of the packed weights, scale and rowsum arrays (bytes / elements). */
size_t eva_q8_packed_bytes(int N, int K);
size_t eva_q8_padded_rows(int N);
/* Store row n (K int8 values wq, scale ws) into the packed layout; updates rowsum[n], scale[n].
 * packed/scale/rowsum must have been zeroed first. */
void eva_q8_pack_row(int n, int K, const int8_t *q, float ws, int8_t *packed, float *scale, int32_t *rowsum);
/* wq[n, k] back from the packed layout (reference kernel, saving files). */
static inline int8_t eva_q8_at(const eva_q8_weight *w, int n, int k) {
    size_t kq = ((size_t)w->K + 3) / 4;
    return w->packed[(((size_t)(n / 32) * kq + (size_t)(k / 4)) * 32 + (size_t)(n % 32)) * 4 + (size_t)(k % 4)];
}

size_t eva_gemm_q8_workspace(int M, int K, int threads);
/* Quantise activation rows into the workspace layout (shared by reference and fast paths). */
void eva_q8_quantize_act_ref(int M, int K, const float *A, int lda, void *workspace);
void eva_gemm_q8_ref(int M, int N, int K, const float *A, int lda, const eva_q8_weight *W, const float *bias,
                     float *C, int ldc, eva_gemm_epilogue epi, void *workspace);
void eva_gemm_q8(eva_pool *pool, int M, int N, int K, const float *A, int lda, const eva_q8_weight *W,
                 const float *bias, float *C, int ldc, eva_gemm_epilogue epi, void *workspace);

/* Benchmarks (bench/q8_ab.c): the next weight panel's prefetch on (default) or off. */
void eva_gemm_q8_set_prefetch(bool on);
/* true when the AVX-512 VNNI int8 kernel will be used (else the reference). */
bool eva_gemm_q8_fast(void);
bool eva_gemm_bf16_fast(void);

/* ---------------------------------------------------------------- internal (ISA files) */
/* q8 tile flags beside GEMM_F_*: int32 partial sums of a K block in / out (no epilogue on out) */
enum { Q8_F_PART_LOAD = 64, Q8_F_PART_STORE = 128 };
typedef struct q8_ws_layout {
    size_t kq;          /* k quads */
    size_t panels;      /* ceil(M / EVA_Q8_MR) */
    uint8_t *aq;        /* panels x kq x MR x 4 bytes: aq[((p·kq + q)·MR + i)·4 + r] */
    float *ascale;      /* [panels*MR] */
} q8_ws_layout;
q8_ws_layout eva_q8_ws_layout(int M, int K, void *workspace);

#endif /* EVA_OPS_GEMM_LOWP_H */
