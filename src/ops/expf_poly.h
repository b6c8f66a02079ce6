/* expf_poly.h — exp(x) for x <= 0 (softmax arguments after the running max or the
 * log-sum-exp is subtracted): 2^n * p(r), r in [-ln2/2, ln2/2], degree-6 polynomial; relative
 * error < 3e-7 (checked against exp in tests/test_ops.c); inputs below -87 give ~0.
 * Branch-free so loops over it vectorise (libm's expf does not). Shared by the inference and
 * the training attention kernels. */
#ifndef EVA_OPS_EXPF_POLY_H
#define EVA_OPS_EXPF_POLY_H

#include <stdint.h>
#include <string.h>

static inline float eva_expf_poly(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693145751953125f - n * 1.428606765330187045e-06f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = (int32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

#endif
