/* ops.h — numerical kernels of the EVA forward pass (fp32). Each has a plain reference; the
 * fast variants are tested against it. Shapes use B batch, N tokens, D width, H heads,
 * hd head dim, F MLP hidden, G grid side, P patch. */
#ifndef EVA_OPS_H
#define EVA_OPS_H

#include "base/base.h"

/* LayerNorm over the last dim: y[r,:] = (x[r,:]-mean)/sqrt(var+eps)*w + b, biased variance.
 * x, y: [rows, D] (may alias). Mean/variance accumulated in double (closer to the fp64 golden). */
void eva_layernorm_ref(const float *x, const float *w, const float *b, float *y, int rows, int D, float eps);
void eva_layernorm(eva_pool *pool, const float *x, const float *w, const float *b, float *y, int rows, int D, float eps);

/* Exact erf GELU of one value (the vectorised forms live in gemm.h). */
static inline float eva_gelu1(float v) { return 0.5f * v * (1.0f + __builtin_erff(v * 0.70710678118654752f)); }

/* Multi-head self-attention, no mask. qkv: [B, N, 3D] with q | k | v, head h owns channels
 * [h*hd, (h+1)*hd) of each; out: [B, N, D] heads concatenated. q is scaled by hd^-0.5 before
 * q·k^T; logits and softmax in fp32.
 * _ref: one query row at a time with an N-float logit row (obviously right).
 * eva_attention: streams over key blocks with an online softmax (FlashAttention style) so no
 * N x N matrix exists; threads split over (batch, head, query block). */
void eva_attention_ref(const float *qkv, float *out, int B, int N, int D, int H);
void eva_attention(eva_pool *pool, const float *qkv, float *out, int B, int N, int D, int H);

/* Patch extraction for the patch-embedding conv as a GEMM: images [B, C, S, S] ->
 * cols [B*G*G, C*P*P] with row = b*G*G + r*G + c and column = ch*P*P + i*P + j (the conv
 * weight's [D, C, P, P] flattening). */
void eva_im2col_patches(const float *images, float *cols, int B, int C, int S, int P);

/* Bicubic resampling of a [Gin_h, Gin_w, D] grid of D-vectors to [Gout_h, Gout_w, D] (each
 * channel resized as an image). official: torch bicubic align_corners=False, a=-0.75, border
 * clamped, no antialias. timm: antialiased (Pillow-style) a=-0.5, weights renormalised.
 * Computed in double. */
void eva_resample_grid_official(const float *in, int hin, int win, float *out, int hout, int wout, int D);
void eva_resample_grid_timm(const float *in, int hin, int win, float *out, int hout, int wout, int D);
/* Same on a single-channel planar image [h, w] (used for conv kernels). */
void eva_resize_plane_official(const float *in, int hin, int win, float *out, int hout, int wout);

#endif
