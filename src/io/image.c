/* image.c — format sniffing, size limits, EXIF orientation and the public decode entry points.
 * The per-format decoders live in image_jpeg.c, image_png.c and image_webp.c. Every decoder
 * returns H x W x 3 RGB (row-major, uint8), identical to Pillow 9.4's convert('RGB'). */
#include "io/image.h"

#include <stdlib.h>

eva_image_format eva_image_sniff(const uint8_t *d, size_t n) {
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return EVA_IMAGE_JPEG;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n >= 8 && memcmp(d, png_sig, 8) == 0) return EVA_IMAGE_PNG;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) return EVA_IMAGE_WEBP;
    return EVA_IMAGE_UNKNOWN;
}

const char *eva_image_format_name(eva_image_format f) {
    switch (f) {
    case EVA_IMAGE_JPEG: return "JPEG";
    case EVA_IMAGE_PNG: return "PNG";
    case EVA_IMAGE_WEBP: return "WebP";
    default: return "unknown";
    }
}

/* Names for formats we recognise but do not decode, so the message says what the file is. */
static const char *other_format(const uint8_t *d, size_t n) {
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) return "GIF";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0) return "HEIF/AVIF/MP4";
    return NULL;
}

eva_status eva_image_check_size(int64_t w, int64_t h, int64_t max_pixels, const char *what) {
    if (w <= 0 || h <= 0) return eva_fail(EVA_ERR_FORMAT, "%s: invalid image size %lldx%lld", what, (long long)w, (long long)h);
    int64_t limit = max_pixels > 0 && max_pixels < EVA_IMAGE_DEFAULT_MAX_PIXELS ? max_pixels : EVA_IMAGE_DEFAULT_MAX_PIXELS;
    if (w > EVA_IMAGE_MAX_SIDE || h > EVA_IMAGE_MAX_SIDE)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: image is %lldx%lld pixels; at most %d per side are supported",
                        what, (long long)w, (long long)h, EVA_IMAGE_MAX_SIDE);
    if (w * h > limit)   /* both <= 65535: no overflow */
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: image is %lldx%lld = %lld pixels, more than the limit of %lld (decompression bomb guard)",
                        what, (long long)w, (long long)h, (long long)(w * h), (long long)limit);
    return EVA_OK;
}

/* ---------------------------------------------------------------- EXIF orientation */

static unsigned rd16(const uint8_t *p, bool le) { return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, bool le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int eva_exif_orientation(const uint8_t *d, size_t n) {
    if (n >= 6 && memcmp(d, "Exif\0\0", 6) == 0) { d += 6; n -= 6; }
    if (n < 8) return 1;
    bool le;
    if (d[0] == 'I' && d[1] == 'I') le = true;
    else if (d[0] == 'M' && d[1] == 'M') le = false;
    else return 1;
    if (rd16(d + 2, le) != 42) return 1;
    uint32_t ifd = rd32(d + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(d + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(d + e, le) == 0x0112) {              /* Orientation, SHORT */
            unsigned type = rd16(d + e + 2, le);
            unsigned v = type == 3 ? rd16(d + e + 8, le) : type == 4 ? (unsigned)rd32(d + e + 8, le) : 1;
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* Orientation o as Pillow's exif_transpose: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
 * 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90. Output pixel (x, y) takes input (sx, sy). */
eva_status eva_image_apply_orientation(eva_image *img, int o) {
    if (o < 2 || o > 8) return EVA_OK;
    const int W = img->width, H = img->height;
    const bool swap = o >= 5;
    const int ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *dst = eva_malloc((size_t)ow * oh * 3);
    if (!dst) return EVA_ERR_NOMEM;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;
            case 4: sx = x; sy = H - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = H - 1 - x; break;
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;
            default: sx = W - 1 - y; sy = x; break;   /* 8 */
            }
            memcpy(dst + ((size_t)y * ow + x) * 3, img->data + ((size_t)sy * W + sx) * 3, 3);
        }
    free(img->data);
    img->data = dst;
    img->width = ow;
    img->height = oh;
    return EVA_OK;
}

/* ---------------------------------------------------------------- public entry points */

static eva_status decode_named(const uint8_t *d, size_t n, const char *what, const eva_image_options *opts, eva_image *out) {
    eva_image_options def = {0};
    if (!opts) opts = &def;
    memset(out, 0, sizeof *out);
    if (n == 0) return eva_fail(EVA_ERR_FORMAT, "%s: empty file (0 bytes), not an image", what);
    eva_status st;
    switch (eva_image_sniff(d, n)) {
    case EVA_IMAGE_JPEG: st = eva_decode_jpeg(d, n, what, opts, out); break;
    case EVA_IMAGE_PNG: st = eva_decode_png(d, n, what, opts, out); break;
    case EVA_IMAGE_WEBP: st = eva_decode_webp(d, n, what, opts, out); break;
    default: {
        const char *o = other_format(d, n);
        if (o) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: %s images are not supported (JPEG, PNG and WebP are)", what, o);
        return eva_fail(EVA_ERR_FORMAT, "%s: not a JPEG, PNG or WebP image (unrecognised first bytes)", what);
    }
    }
    if (st != EVA_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return st;
}

eva_status eva_image_decode(const void *data, size_t size, const eva_image_options *opts, eva_image *out) {
    if (!out) return eva_fail(EVA_ERR_INVALID_ARG, "eva_image_decode: out is NULL");
    if (!data && size) return eva_fail(EVA_ERR_INVALID_ARG, "eva_image_decode: data is NULL");
    return decode_named(data, size, "image", opts, out);
}

eva_status eva_image_load(const char *path, const eva_image_options *opts, eva_image *out) {
    if (!out || !path) return eva_fail(EVA_ERR_INVALID_ARG, "eva_image_load: NULL argument");
    memset(out, 0, sizeof *out);
    eva_mapped_file mf;
    eva_status st = eva_map_file(path, &mf);
    if (st != EVA_OK) return st;
    st = decode_named(mf.data, mf.size, path, opts, out);
    eva_unmap_file(&mf);
    return st;
}

void eva_image_free(eva_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}
