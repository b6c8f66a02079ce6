/* gemm_internal.h — the contract between the blocked GEMM driver (gemm.c) and the per-ISA
 * micro-kernels (gemm_avx512.c, gemm_avx2.c). Not for use outside src/ops/gemm*.c.
 *
 * Packed layouts (MR, NR = the ISA's register tile):
 *   A panel  ap[k*MR + i]  = A[m0+i, k0+k]   i < mr (rows >= mr are never read)
 *   B panel  bp[k*NR + j]  = W[n0+j, k0+k]   (TN) or B[k0+k, n0+j] (NN); j >= nr is zero
 * The kernel computes the MR x NR tile acc = sum_k ap[k,i]·bp[k,j] for the first mr rows and all
 * NR columns (the driver routes partial-width tiles through a scratch tile), then stores
 *   c = acc (+ c if GEMM_F_LOAD_C) (+ bias[j] if GEMM_F_BIAS), then GELU if GEMM_F_GELU. */
#ifndef EVA_OPS_GEMM_INTERNAL_H
#define EVA_OPS_GEMM_INTERNAL_H

#include "ops/gemm.h"

#include <stdint.h>

enum { GEMM_F_LOAD_C = 1, GEMM_F_BIAS = 2, GEMM_F_GELU = 4 };

#define GEMM_MR_MAX 14
#define GEMM_NR_MAX 32

/* Cache lines the kernel should prefetch (into L2) while it computes: `rows` rows of
 * `lines_per_row` consecutive 64-byte lines, rows `stride` bytes apart. The driver points this at
 * the weight rows of the next B panel so their memory latency hides under the FMAs; one
 * prefetch per 4 k steps keeps the fill buffers from ever blocking the loop. */
typedef struct gemm_prefetch {
    const char *row;
    size_t stride;
    int lines_per_row;
    int rows;
} gemm_prefetch;

typedef void (*gemm_kernel_fn)(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int flags,
                               const float *bias, const gemm_prefetch *pf);

typedef struct gemm_isa {
    const char *name;
    int mr, nr;
    /* one MR x NR tile, kc >= 1, 1 <= mr <= MR; bias (NR floats) used only with GEMM_F_BIAS;
     * pf may be NULL */
    gemm_kernel_fn kernel;
    /* B panel from W[N,K] rows (w points at W[n0, k0]) and from B[K,N] (b points at B[k0, n0]) */
    void (*pack_tn)(int kc, const float *w, int ldw, int nr, float *out);
    void (*pack_nn)(int kc, const float *b, int ldb, int nr, float *out);
    /* A panel: out[k*MR + i] = a[i*lda + k] for i < mr (NULL: the generic scalar loop in gemm.c) */
    void (*pack_a)(int kc, const float *a, int lda, int mr, float *out);
} gemm_isa;

/* Epilogue flags of the K block [k0, k0+kc) of a depth-K product: C is loaded on every block
 * after the first (or always when accumulating), bias added on the first, GELU on the last. */
static inline int gemm_block_flags(eva_gemm_epilogue epi, bool bias, int k0, int kc, int K) {
    bool first = k0 == 0, last = k0 + kc == K;
    return (!first || epi == EVA_GEMM_ACCUMULATE ? GEMM_F_LOAD_C : 0) | (first && bias ? GEMM_F_BIAS : 0) |
           (last && epi == EVA_GEMM_GELU ? GEMM_F_GELU : 0);
}

/* The row tiles of one packed weight panel (fp32 and bf16 drivers): kernel over rows tiles of
 * mr_tile rows (tile t's A panel at ap + t*ap_stride), C at c with nr valid columns of nr_tile
 * (narrower panels go through a scratch tile), bias = the panel's nr biases or NULL; meanwhile
 * the next panel's weights are prefetched, a slice per tile: pf_rows rows of pf_lines cache
 * lines, pf_stride bytes apart, from pf_src (pf_rows 0: nothing). */
typedef struct gemm_panel_tiles {
    gemm_kernel_fn kernel;
    int mr_tile, nr_tile, rows, kc;
    const float *ap;
    size_t ap_stride;
    const float *bp;
    float *c;
    int ldc, nr, flags;
    const float *bias;
    const char *pf_src;
    size_t pf_stride;
    int pf_lines, pf_rows;
    /* optional (gemm.c's shared A packing at batch 1): tile t's A panel is tile_a(tile_ctx, t)
     * instead of ap + t*ap_stride, and the tiles run first_tile, first_tile+1, ... round to
     * first_tile-1 (the order never changes a tile's bits) */
    const float *(*tile_a)(void *tile_ctx, int tile);
    void *tile_ctx;
    int first_tile;
} gemm_panel_tiles;
void eva_gemm_panel_tiles(const gemm_panel_tiles *t);

/* Each is defined only when its ISA file is compiled (x86-64); the driver checks the CPU. */
extern const gemm_isa eva_gemm_isa_avx512;
extern const gemm_isa eva_gemm_isa_avx2;

/* The bf16 x bf16 kernel (gemm_bf16dot_kernel.h): same tile, flags and prefetch contract as
 * gemm_isa.kernel, but ap/bp hold bf16 pairs (32-bit words) and kc counts k, not pairs. */
typedef struct eva_bf16dot_isa {
    const char *name;
    gemm_kernel_fn kernel;
    void (*pack_a)(int kc, const float *a, int lda, int mr, float *out);
    void (*pack_b)(int kc, const uint16_t *w, int ldw, int nr, float *out);
} eva_bf16dot_isa;
extern const eva_bf16dot_isa eva_bf16dot_isa_emulated; /* AVX-512F, any AVX-512 CPU */
extern const eva_bf16dot_isa eva_bf16dot_isa_hw;       /* only with EVA_HAVE_AVX512BF16 */
/* &eva_bf16dot_isa_hw where it was compiled, else NULL (for tests: no CPU check is made). */
const eva_bf16dot_isa *eva_bf16dot_hw_isa(void);

/* Vectorised exact-erf GELU over n floats (AVX-512 version; call only after the CPU check). */
void eva_gelu_avx512(float *x, size_t n);
void eva_gelu_avx2(float *x, size_t n);

/* eva_gemm_panels_ref on columns [n0, n1) only (C, bias indexed by the absolute column). */
void eva_gemm_panels_ref_cols(int M, int n0, int n1, int K, const float *A, int lda, const float *Wp,
                              const float *bias, float *C, int ldc, eva_gemm_epilogue epi);

/* The K block and the row-block cap of the fp32 driver for depth K and MR-row tiles; the bf16
 * driver uses the same K blocks, so its results match the fp32 GEMM on widened weights bit for bit. */
#define GEMM_KC_LIMIT 1536
int eva_gemm_blocking(int K, int mr, int *mc_max);

#endif /* EVA_OPS_GEMM_INTERNAL_H */
