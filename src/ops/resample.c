/* resample.c — bicubic resampling of position-embedding grids and conv kernels, the two ways
 * the references do it (golden README §5):
 *   official: torch interpolate(bicubic, align_corners=False, antialias=False): a = -0.75,
 *             4 taps at floor(src)-1..+2 with indices clamped to the border.
 *   timm:     torch interpolate(bicubic, antialias=True) (Pillow's scheme): a = -0.5, support
 *             2*max(1, scale), taps outside the input dropped, weights renormalised.
 * Both are separable; weights are computed once per axis and applied in double. */
#include "ops/ops.h"

#include <math.h>
#include <stdlib.h>

static double cubic(double x, double a) {
    x = fabs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Per output index: taps [first, first+count) with weights w. Max taps bounded by ksize. */
typedef struct { int *first, *count; double *w; int ksize; } axis_weights;

static bool axis_official(int in, int out, axis_weights *aw) {
    aw->ksize = 4;
    aw->first = malloc(sizeof(int) * (size_t)out * 4);   /* per tap index (clamped) */
    aw->count = NULL;
    aw->w = malloc(sizeof(double) * (size_t)out * 4);
    if (!aw->first || !aw->w) return false;
    double scale = (double)in / out;
    for (int o = 0; o < out; o++) {
        double src = (o + 0.5) * scale - 0.5;
        double f = floor(src);
        double t = src - f;
        int i0 = (int)f;
        double wt[4] = {cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)};
        for (int k = 0; k < 4; k++) {
            int idx = i0 - 1 + k;
            idx = idx < 0 ? 0 : idx >= in ? in - 1 : idx;
            aw->first[o * 4 + k] = idx;
            aw->w[o * 4 + k] = wt[k];
        }
    }
    return true;
}

static bool axis_timm(int in, int out, axis_weights *aw) {
    double scale = (double)in / out;
    double fs = scale > 1 ? scale : 1;
    double support = 2 * fs;
    int ksize = (int)ceil(support) * 2 + 1;
    aw->ksize = ksize;
    aw->first = malloc(sizeof(int) * (size_t)out * (size_t)ksize);
    aw->w = malloc(sizeof(double) * (size_t)out * (size_t)ksize);
    aw->count = NULL;
    if (!aw->first || !aw->w) return false;
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        double sum = 0;
        int n = 0;
        for (int x = xmin; x < xmax && n < ksize; x++, n++) {
            double w = cubic((x - center + 0.5) / fs, -0.5);
            aw->first[o * ksize + n] = x;
            aw->w[o * ksize + n] = w;
            sum += w;
        }
        for (int k = 0; k < ksize; k++) {
            if (k < n) {
                if (sum != 0) aw->w[o * ksize + k] /= sum;
            } else {
                aw->first[o * ksize + k] = 0;
                aw->w[o * ksize + k] = 0;
            }
        }
    }
    return true;
}

/* in: [hin, win, D] -> out: [hout, wout, D] */
static void resample_grid(const float *in, int hin, int win, float *out, int hout, int wout, int D, bool timm) {
    axis_weights ax = {0}, ay = {0};
    double *tmp = malloc(sizeof(double) * (size_t)hin * wout * D);   /* after the x pass */
    bool ok = tmp && (timm ? axis_timm(win, wout, &ax) && axis_timm(hin, hout, &ay)
                           : axis_official(win, wout, &ax) && axis_official(hin, hout, &ay));
    if (ok) {
        for (int y = 0; y < hin; y++)
            for (int xo = 0; xo < wout; xo++) {
                double *t = tmp + ((size_t)y * wout + xo) * D;
                for (int d = 0; d < D; d++) t[d] = 0;
                for (int k = 0; k < ax.ksize; k++) {
                    double w = ax.w[xo * ax.ksize + k];
                    if (w == 0) continue;
                    const float *src = in + ((size_t)y * win + ax.first[xo * ax.ksize + k]) * D;
                    for (int d = 0; d < D; d++) t[d] += w * src[d];
                }
            }
        double *acc = malloc(sizeof(double) * (size_t)D);
        if (acc) {
            for (int yo = 0; yo < hout; yo++)
                for (int xo = 0; xo < wout; xo++) {
                    for (int d = 0; d < D; d++) acc[d] = 0;
                    for (int k = 0; k < ay.ksize; k++) {
                        double w = ay.w[yo * ay.ksize + k];
                        if (w == 0) continue;
                        const double *src = tmp + ((size_t)ay.first[yo * ay.ksize + k] * wout + xo) * D;
                        for (int d = 0; d < D; d++) acc[d] += w * src[d];
                    }
                    float *o = out + ((size_t)yo * wout + xo) * D;
                    for (int d = 0; d < D; d++) o[d] = (float)acc[d];
                }
            free(acc);
        }
    }
    free(tmp);
    free(ax.first); free(ax.w); free(ay.first); free(ay.w);
}

void eva_resample_grid_official(const float *in, int hin, int win, float *out, int hout, int wout, int D) {
    resample_grid(in, hin, win, out, hout, wout, D, false);
}

void eva_resample_grid_timm(const float *in, int hin, int win, float *out, int hout, int wout, int D) {
    resample_grid(in, hin, win, out, hout, wout, D, true);
}

void eva_resize_plane_official(const float *in, int hin, int win, float *out, int hout, int wout) {
    resample_grid(in, hin, win, out, hout, wout, 1, false);
}
