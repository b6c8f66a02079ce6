/* layernorm_avx512.c — LayerNorm rows of x [rows, D] for AVX-512, same maths as eva_layernorm_ref.
 *
 * Why: the reference keeps its statistics in double in one serial chain per sum (latency bound,
 * ~4 cycles per element twice per row); here the same double sums run in 4 x 8 lanes. Only the
 * order of the double additions differs, so mean and variance agree to ~1e-16 relative and the
 * outputs, formed exactly as the reference forms them ((float)((x - mean) * inv) * w + b, fp
 * contraction off under -std=c17), almost always agree bit for bit. Only called after the run-time
 * CPU check in layernorm.c. */
#include "ops/ops.h"

#include <immintrin.h>
#include <math.h>

void eva_layernorm_rows_avx512(const float *x, const float *w, const float *b, float *y, int rows, int D, float eps);

static inline __m512d widen_lo(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d widen_hi(__m512 v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

void eva_layernorm_rows_avx512(const float *x, const float *w, const float *b, float *y, int rows, int D, float eps) {
    int d16 = D & ~15;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D;
        float *yr = y + (size_t)r * D;

        __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(),
                s3 = _mm512_setzero_pd();
        int i = 0;
        for (; i + 32 <= d16; i += 32) {
            __m512 a = _mm512_loadu_ps(xr + i), c = _mm512_loadu_ps(xr + i + 16);
            s0 = _mm512_add_pd(s0, widen_lo(a));
            s1 = _mm512_add_pd(s1, widen_hi(a));
            s2 = _mm512_add_pd(s2, widen_lo(c));
            s3 = _mm512_add_pd(s3, widen_hi(c));
        }
        for (; i < d16; i += 16) {
            __m512 a = _mm512_loadu_ps(xr + i);
            s0 = _mm512_add_pd(s0, widen_lo(a));
            s1 = _mm512_add_pd(s1, widen_hi(a));
        }
        double mean = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
        for (; i < D; i++) mean += xr[i];
        mean /= D;

        __m512d mv = _mm512_set1_pd(mean);
        s0 = s1 = s2 = s3 = _mm512_setzero_pd();
        for (i = 0; i + 32 <= d16; i += 32) {
            __m512 a = _mm512_loadu_ps(xr + i), c = _mm512_loadu_ps(xr + i + 16);
            __m512d e0 = _mm512_sub_pd(widen_lo(a), mv), e1 = _mm512_sub_pd(widen_hi(a), mv);
            __m512d e2 = _mm512_sub_pd(widen_lo(c), mv), e3 = _mm512_sub_pd(widen_hi(c), mv);
            s0 = _mm512_fmadd_pd(e0, e0, s0);
            s1 = _mm512_fmadd_pd(e1, e1, s1);
            s2 = _mm512_fmadd_pd(e2, e2, s2);
            s3 = _mm512_fmadd_pd(e3, e3, s3);
        }
        for (; i < d16; i += 16) {
            __m512 a = _mm512_loadu_ps(xr + i);
            __m512d e0 = _mm512_sub_pd(widen_lo(a), mv), e1 = _mm512_sub_pd(widen_hi(a), mv);
            s0 = _mm512_fmadd_pd(e0, e0, s0);
            s1 = _mm512_fmadd_pd(e1, e1, s1);
        }
        double var = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
        for (; i < D; i++) {
            double d = xr[i] - mean;
            var += d * d;
        }
        var /= D;
        double inv = 1.0 / sqrt(var + (double)eps);

        __m512d iv = _mm512_set1_pd(inv);
        for (i = 0; i < d16; i += 16) {
            __m512 a = _mm512_loadu_ps(xr + i);
            __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(widen_lo(a), mv), iv));
            __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(widen_hi(a), mv), iv));
            __m512 n = _mm512_castpd_ps(
                _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
            _mm512_storeu_ps(yr + i, _mm512_add_ps(_mm512_mul_ps(n, _mm512_loadu_ps(w + i)), _mm512_loadu_ps(b + i)));
        }
        for (; i < D; i++) yr[i] = (float)((xr[i] - mean) * inv) * w[i] + b[i];
    }
}
