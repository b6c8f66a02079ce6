/* rng.c — Philox-4x32-10 (Salmon et al., SC'11): a counter-based generator, so every random
 * number is a pure function of (key, counter) and streams can be split or resumed exactly. */
#include "base.h"

#include <math.h>

void eva_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

eva_rng eva_rng_make(uint64_t seed, uint64_t stream) {
    /* mix the stream id into the key so distinct streams never share counters */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    eva_rng r = {z ^ (z >> 31), 0};
    return r;
}

uint64_t eva_rng_u64(eva_rng *r) {
    uint32_t o[4];
    eva_philox4x32(r->key, r->counter++, o);
    return ((uint64_t)o[0] << 32) | o[1];
}

uint32_t eva_rng_u32(eva_rng *r) { return (uint32_t)(eva_rng_u64(r) >> 32); }

double eva_rng_uniform(eva_rng *r) { return (double)(eva_rng_u64(r) >> 11) * 0x1.0p-53; }

double eva_rng_normal(eva_rng *r) {
    double u1 = eva_rng_uniform(r), u2 = eva_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int64_t eva_rng_below(eva_rng *r, int64_t n) {
    if (n <= 1) return 0;
    uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t x;
    do x = eva_rng_u64(r); while (x >= limit);
    return (int64_t)(x % un);
}
