/* gemm_ref.c — the obviously-right references every fast GEMM kernel is tested against.
 * Shapes: A[M,K] activations, W[N,K] Linear weight (out, in), B[K,N], C[M,N]; row-major with
 * leading dimensions in elements. Accumulation is in double so the reference is more exact than
 * any fp32 kernel; the sum is rounded to float once, then bias / residual / GELU are applied in
 * float exactly as written in the epilogue definitions of gemm.h. */
#include "ops/gemm_internal.h"

#include <math.h>
#include <string.h>

float eva_gelu_ref(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
}

void eva_gemm_ref(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
                  const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = 0; n < N; n++) {
            const float *w = W + (size_t)n * (size_t)ldw;
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)a[k] * (double)w[k];
            float v = (float)acc;
            if (bias) v += bias[n];
            if (epi == EVA_GEMM_ACCUMULATE) v += c[n];
            else if (epi == EVA_GEMM_GELU) v = eva_gelu_ref(v);
            c[n] = v;
        }
    }
}

void eva_gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     bool accumulate) {
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = 0; n < N; n++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)a[k] * (double)B[(size_t)k * (size_t)ldb + (size_t)n];
            c[n] = accumulate ? c[n] + (float)acc : (float)acc;
        }
    }
}

size_t eva_panels_floats(int N, int K) {
    return (size_t)((N + EVA_PANEL_WIDTH - 1) / EVA_PANEL_WIDTH) * (size_t)K * EVA_PANEL_WIDTH;
}

void eva_pack_panels(int N, int K, const float *W, int ldw, float *Wp) {
    memset(Wp, 0, eva_panels_floats(N, K) * sizeof(float));   /* the last panel's padding lanes */
    for (int n = 0; n < N; n++) eva_panels_set_row(Wp, K, n, W + (size_t)n * (size_t)ldw);
}

/* Columns [n0, n1) of C (bias and C indexed by the absolute column): the whole reference, and the
 * fallback of a GEMM block whose thread has no pack buffers (gemm.c). */
void eva_gemm_panels_ref_cols(int M, int n0, int n1, int K, const float *A, int lda, const float *Wp,
                              const float *bias, float *C, int ldc, eva_gemm_epilogue epi) {
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * (size_t)lda;
        float *c = C + (size_t)m * (size_t)ldc;
        for (int n = n0; n < n1; n++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) acc += (double)a[k] * (double)eva_panels_at(Wp, K, n, k);
            float v = (float)acc;
            if (bias) v += bias[n];
            if (epi == EVA_GEMM_ACCUMULATE) v += c[n];
            else if (epi == EVA_GEMM_GELU) v = eva_gelu_ref(v);
            c[n] = v;
        }
    }
}

void eva_gemm_panels_ref(int M, int N, int K, const float *A, int lda, const float *Wp, const float *bias, float *C,
                         int ldc, eva_gemm_epilogue epi) {
    eva_gemm_panels_ref_cols(M, 0, N, K, A, lda, Wp, bias, C, ldc, epi);
}
