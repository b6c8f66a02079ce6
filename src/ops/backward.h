/* backward.h — training kernels: forward variants that keep what the backward needs, and the
 * backward of every op of the EVA ViT (fp32 data, double where a reduction decides accuracy).
 * Shapes: B batch, N tokens, D width, H heads, hd = D/H head dim, F MLP hidden, M rows of a
 * linear layer, K its input features, O its output features.
 *
 * Conventions: gradient outputs marked "(+=)" accumulate into what the caller passes (residual
 * streams and parameter gradients that several rows share); "(=)" overwrite. Every kernel has a
 * plain reference (_ref) next to the fast/threaded one; pool may be NULL only for _ref. */
#ifndef EVA_OPS_BACKWARD_H
#define EVA_OPS_BACKWARD_H

#include "base/base.h"

#include <stdbool.h>

/* ---------------------------------------------------------------- linear layers
 * Y[M,O] = X[M,K]·W[O,K]^T + b. Backward:
 *   dX[M,K] (=/+=) dY[M,O]·W[O,K]         (eva_gemm_nn)
 *   dW[O,K] (=/+=) dY[M,O]^T·X[M,K]        (eva_gemm_tn below)
 *   db[O]   (=/+=) column sums of dY       (double accumulation)
 *
 * eva_gemm_tn: C[N,K] (+)= A[M,N]^T · B[M,K] (a transposed-left product; M is the reduction).
 * _ref: triple loop with double accumulation. Fast: transposes A into a scratch [N,M] panel
 * (O(M N) copy, negligible next to the O(M N K) product) and calls the packed eva_gemm_nn; if
 * the scratch cannot be allocated it quietly uses the reference. */
void eva_gemm_tn_ref(int N, int K, int M, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     bool accumulate);
void eva_gemm_tn(eva_pool *pool, int N, int K, int M, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate);
/* db[O] (+)= sum over M rows of dY[M,O] (ld = O). */
void eva_bias_grad_ref(int M, int O, const float *dY, float *db, bool accumulate);
void eva_bias_grad(eva_pool *pool, int M, int O, const float *dY, float *db, bool accumulate);

/* All three gradients of one linear layer. dX, dW, db may each be NULL (not needed);
 * acc_dx / acc_w select += for dX / (dW, db). reference: use the _ref kernels. */
void eva_linear_backward(eva_pool *pool, bool reference, int M, int O, int K, const float *X, const float *W,
                         const float *dY, float *dX, bool acc_dx, float *dW, float *db, bool acc_w);

/* ---------------------------------------------------------------- LayerNorm
 * Forward as eva_layernorm_ref (double statistics) that also stores mean[rows] and
 * rstd[rows] = 1/sqrt(var + eps) in double. Backward, per row with xhat = (x - mean)·rstd,
 * g = dy·w:  dx (+=) rstd·(g - mean(g) - xhat·mean(g·xhat));  dw (+=) Σ_rows dy·xhat;
 * db (+=) Σ_rows dy. Threaded version: rows split over tasks, per-task dw/db partials summed
 * in a fixed order (deterministic for a given thread count). */
void eva_layernorm_fwd_train(eva_pool *pool, const float *x, const float *w, const float *b, float *y, double *mean,
                             double *rstd, int rows, int D, float eps);
void eva_layernorm_backward_ref(const float *x, const float *w, const double *mean, const double *rstd,
                                const float *dy, float *dx, float *dw, float *db, int rows, int D);
eva_status eva_layernorm_backward(eva_pool *pool, const float *x, const float *w, const double *mean,
                                  const double *rstd, const float *dy, float *dx, float *dw, float *db, int rows,
                                  int D);

/* ---------------------------------------------------------------- exact-erf GELU
 * g = 0.5 u (1 + erf(u/√2)); dg/du = Φ(u) + u φ(u). du (=) dg · (Φ(u) + u φ(u)), n elements. */
void eva_gelu_backward_ref(const float *u, const float *dg, float *du, size_t n);
void eva_gelu_backward(eva_pool *pool, const float *u, const float *dg, float *du, size_t n);

/* ---------------------------------------------------------------- attention (no mask)
 * qkv [B,N,3D] (q | k | v, head h = channels [h hd, (h+1) hd) of each), out [B,N,D],
 * lse [B,H,N] = log Σ_j exp(s_ij) with s = (q·hd^-1/2)·k^T (the softmax statistics, so the
 * backward recomputes P = exp(s - lse) without storing any N x N matrix).
 * Backward (FlashAttention-2): Δ_i = dO_i·O_i, dP = dO·V^T, dS = P ∘ (dP - Δ),
 * dQ = scale·dS·K, dK = scale·dS^T·Q, dV = P^T·dO, written into dqkv [B,N,3D] (=).
 * _ref: one query row at a time with an N-float temp. Fast: tiles of query x key blocks,
 * threads over (batch, head) so every task owns its dQ/dK/dV columns (no atomics). */
void eva_attention_fwd_ref(const float *qkv, float *out, float *lse, int B, int N, int D, int H);
void eva_attention_fwd(eva_pool *pool, const float *qkv, float *out, float *lse, int B, int N, int D, int H);
void eva_attention_backward_ref(const float *qkv, const float *out, const float *lse, const float *dout, float *dqkv,
                                int B, int N, int D, int H);
void eva_attention_backward(eva_pool *pool, const float *qkv, const float *out, const float *lse, const float *dout,
                            float *dqkv, int B, int N, int D, int H);

/* ---------------------------------------------------------------- mean pooling (fine-tuning head)
 * pooled[b,:] = mean over the patch tokens t = 1..N-1 of x[b,t,:] (cls token excluded), summed in
 * double as the inference forward does; then fc_norm (LayerNorm above) and head (linear above).
 * Backward: dx[b,t,:] (+=) dpooled[b,:] / (N-1) for t >= 1; the cls row gets nothing. */
void eva_mean_pool_patches(const float *x, float *pooled, int B, int N, int D);
void eva_mean_pool_patches_backward(const float *dpooled, float *dx, int B, int N, int D);

#endif /* EVA_OPS_BACKWARD_H */
