/* half.c — IEEE half and bfloat16 conversions (round to nearest even), dtype table. */
#include "base.h"

#include <math.h>

float eva_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t eva_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        float a;
        memcpy(&a, &absx, 4);
        /* scale so that the subnormal unit (2^-24) becomes 1, round to nearest even */
        float scaled = a * 16777216.0f;
        uint32_t r = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | r);
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float eva_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t eva_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

static const struct { const char *name; size_t size; } g_dtypes[EVA_DTYPE_COUNT] = {
    [EVA_F32] = {"F32", 4}, [EVA_F16] = {"F16", 2}, [EVA_BF16] = {"BF16", 2},
    [EVA_F64] = {"F64", 8}, [EVA_I64] = {"I64", 8}, [EVA_I32] = {"I32", 4},
    [EVA_I16] = {"I16", 2}, [EVA_I8] = {"I8", 1},   [EVA_U8] = {"U8", 1},
    [EVA_BOOL] = {"BOOL", 1}, [EVA_Q8] = {"Q8", 1},
};

const char *eva_dtype_name(eva_dtype dt) {
    return (unsigned)dt < EVA_DTYPE_COUNT ? g_dtypes[dt].name : "?";
}

size_t eva_dtype_size(eva_dtype dt) {
    return (unsigned)dt < EVA_DTYPE_COUNT ? g_dtypes[dt].size : 0;
}

eva_status eva_dtype_from_name(const char *name, eva_dtype *out) {
    for (int i = 0; i < EVA_DTYPE_COUNT; i++)
        if (i != EVA_Q8 && strcmp(name, g_dtypes[i].name) == 0) {
            *out = (eva_dtype)i;
            return EVA_OK;
        }
    return eva_fail(EVA_ERR_UNSUPPORTED, "unknown dtype '%s'", name);
}

eva_status eva_convert_to_f32(eva_dtype dt, const void *src, float *dst, size_t n) {
    switch (dt) {
    case EVA_F32: memcpy(dst, src, n * 4); break;
    case EVA_F16: for (size_t i = 0; i < n; i++) dst[i] = eva_f16_to_f32(((const uint16_t *)src)[i]); break;
    case EVA_BF16: for (size_t i = 0; i < n; i++) dst[i] = eva_bf16_to_f32(((const uint16_t *)src)[i]); break;
    case EVA_F64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; break;
    case EVA_I64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i]; break;
    case EVA_I32: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i]; break;
    case EVA_I16: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int16_t *)src)[i]; break;
    case EVA_I8: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i]; break;
    case EVA_U8: case EVA_BOOL: for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint8_t *)src)[i]; break;
    default: return eva_fail(EVA_ERR_UNSUPPORTED, "cannot convert dtype %s to F32", eva_dtype_name(dt));
    }
    return EVA_OK;
}
