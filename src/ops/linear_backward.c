/* linear_backward.c — gradients of Y[M,O] = X[M,K]·W[O,K]^T + b:
 * dX = dY·W (eva_gemm_nn), dW = dY^T·X (eva_gemm_tn here), db = column sums of dY. */
#include "ops/backward.h"
#include "ops/gemm.h"

#include <stdlib.h>

/* C[N,K] (+)= A[M,N]^T · B[M,K]; double accumulation over the M rows. */
void eva_gemm_tn_ref(int N, int K, int M, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                     bool accumulate) {
    double *acc = malloc(sizeof(double) * (size_t)(K > 0 ? K : 1));
    if (!acc) return;
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) acc[k] = 0;
        for (int m = 0; m < M; m++) {
            double a = A[(size_t)m * lda + n];
            if (a == 0) continue;
            const float *b = B + (size_t)m * ldb;
            for (int k = 0; k < K; k++) acc[k] += a * b[k];
        }
        float *c = C + (size_t)n * ldc;
        for (int k = 0; k < K; k++) c[k] = accumulate ? (float)(c[k] + acc[k]) : (float)acc[k];
    }
    free(acc);
}

/* Transpose A[M,N] (ld lda) into At[N,M] in 32x32 tiles (cache friendly both ways). */
static void transpose_tiles(int M, int N, const float *A, int lda, float *At) {
    enum { T = 32 };
    for (int m0 = 0; m0 < M; m0 += T)
        for (int n0 = 0; n0 < N; n0 += T) {
            int m1 = EVA_MIN(M, m0 + T), n1 = EVA_MIN(N, n0 + T);
            for (int m = m0; m < m1; m++)
                for (int n = n0; n < n1; n++) At[(size_t)n * M + m] = A[(size_t)m * lda + n];
        }
}

void eva_gemm_tn(eva_pool *pool, int N, int K, int M, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate) {
    if (N <= 0 || K <= 0) return;
    if (M <= 0) {
        if (!accumulate)
            for (int n = 0; n < N; n++) memset(C + (size_t)n * ldc, 0, sizeof(float) * (size_t)K);
        return;
    }
    float *At = eva_aligned_alloc(sizeof(float) * (size_t)M * (size_t)N);
    if (!At) {
        eva_gemm_tn_ref(N, K, M, A, lda, B, ldb, C, ldc, accumulate);
        return;
    }
    transpose_tiles(M, N, A, lda, At);
    eva_gemm_nn(pool, N, K, M, At, M, B, ldb, C, ldc, accumulate);
    eva_aligned_free(At);
}

void eva_bias_grad_ref(int M, int O, const float *dY, float *db, bool accumulate) {
    for (int o = 0; o < O; o++) {
        double s = 0;
        for (int m = 0; m < M; m++) s += dY[(size_t)m * O + o];
        db[o] = accumulate ? (float)(db[o] + s) : (float)s;
    }
}

/* Threaded: tasks own column chunks; each sums its columns row by row (contiguous reads). */
typedef struct { int M, O, chunk; const float *dY; float *db; bool acc; } bias_job;

static void bias_task(void *ctx, int task, int thread) {
    (void)thread;
    const bias_job *j = ctx;
    int o0 = task * j->chunk, o1 = EVA_MIN(j->O, o0 + j->chunk);
    double s[256];
    for (int o = o0; o < o1; o++) s[o - o0] = 0;
    for (int m = 0; m < j->M; m++) {
        const float *r = j->dY + (size_t)m * j->O;
        for (int o = o0; o < o1; o++) s[o - o0] += r[o];
    }
    for (int o = o0; o < o1; o++) j->db[o] = j->acc ? (float)(j->db[o] + s[o - o0]) : (float)s[o - o0];
}

void eva_bias_grad(eva_pool *pool, int M, int O, const float *dY, float *db, bool accumulate) {
    bias_job j = {M, O, 256, dY, db, accumulate};
    eva_pool_run(pool, (O + 255) / 256, bias_task, &j);
}

void eva_linear_backward(eva_pool *pool, bool reference, int M, int O, int K, const float *X, const float *W,
                         const float *dY, float *dX, bool acc_dx, float *dW, float *db, bool acc_w) {
    if (dX) {
        if (reference)
            eva_gemm_nn_ref(M, K, O, dY, O, W, K, dX, K, acc_dx);
        else
            eva_gemm_nn(pool, M, K, O, dY, O, W, K, dX, K, acc_dx);
    }
    if (dW) {
        if (reference)
            eva_gemm_tn_ref(O, K, M, dY, O, X, K, dW, K, acc_w);
        else
            eva_gemm_tn(pool, O, K, M, dY, O, X, K, dW, K, acc_w);
    }
    if (db) {
        if (reference)
            eva_bias_grad_ref(M, O, dY, db, acc_w);
        else
            eva_bias_grad(pool, M, O, dY, db, acc_w);
    }
}
