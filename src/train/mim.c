/* mim.c — cosine MIM loss and its gradient. Shapes: pred, target, dpred [M, C]; cos_out [M].
 * Per row, with n_p = |p|, n_t = |t|, den = max(n_p n_t, eps), c = p·t / den:
 *   dc/dp = t/den - c p / n_p^2   (den not clamped)      dc/dp = t/eps   (clamped)
 * and d loss / d p = -(1/M) dc/dp. */
#include "train/mim.h"

#include <math.h>

double eva_mim_cosine_loss(const float *pred, const float *target, int M, int C, double eps, float *dpred,
                           float *cos_out) {
    if (M <= 0) return 0.0;
    double total = 0;
    for (int m = 0; m < M; m++) {
        const float *p = pred + (size_t)m * C, *t = target + (size_t)m * C;
        double pp = 0, tt = 0, pt = 0;
        for (int c = 0; c < C; c++) {
            pp += (double)p[c] * p[c];
            tt += (double)t[c] * t[c];
            pt += (double)p[c] * t[c];
        }
        double np = sqrt(pp), nt = sqrt(tt), prod = np * nt;
        bool clamped = !(prod > eps);
        double den = clamped ? eps : prod;
        double cs = pt / den;
        total += cs;
        if (cos_out) cos_out[m] = (float)cs;
        if (dpred) {
            float *d = dpred + (size_t)m * C;
            double s = -1.0 / M;
            for (int c = 0; c < C; c++) {
                double g = t[c] / den;
                if (!clamped && pp > 0) g -= cs * p[c] / pp;
                d[c] = (float)(s * g);
            }
        }
    }
    return -total / M;
}
