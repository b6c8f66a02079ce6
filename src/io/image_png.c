/* image_png.c — PNG -> RGB8 with libpng, matching Pillow 9.4's open + convert('RGB').
 *
 * Pillow's PNG modes and what convert('RGB') then does:
 *   grey 1/2/4/8-bit  -> "1"/"L" (values scaled by bit replication) -> replicated to R=G=B
 *   grey 16-bit       -> "I" (raw 0..65535) -> i2rgb CLIPS to 0..255 (not a rescale!)
 *   grey+alpha 8/16   -> "LA" / RGBA via "LA;16B" (high byte) -> alpha dropped
 *   RGB / RGBA 16-bit -> "RGB;16B" / "RGBA;16B": the high byte of each sample
 *   palette           -> "P" -> palette expanded, tRNS ignored (no compositing)
 * libpng gives the same with: palette->RGB, grey 1/2/4->8, strip_16 (high byte) for everything
 * except 16-bit grey, which we read as 16-bit and clamp. gAMA/sBIT/iCCP are ignored by both.
 * libpng's error callback longjmps back here; warnings are silent. */
#include "io/image.h"

#include <setjmp.h>
#include <stdlib.h>

#include <png.h>

typedef struct png_src {
    const uint8_t *data;
    size_t size, pos;
} png_src;

typedef struct png_job {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    uint8_t *raw;       /* decoded rows in libpng's output layout */
    uint8_t *pixels;    /* RGB result */
    char msg[256];
    png_src src;
} png_job;

static void on_read(png_structp png, png_bytep dst, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "file is truncated (premature end of PNG data)");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

eva_status eva_decode_png(const uint8_t *data, size_t size, const char *what,
                          const eva_image_options *opt, eva_image *out) {
    png_job *job = eva_calloc(1, sizeof *job);
    if (!job) return EVA_ERR_NOMEM;
    eva_status st = EVA_OK;
    job->src = (png_src){data, size, 0};
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    if (!job->png || !(job->info = png_create_info_struct(job->png))) {
        st = eva_fail(EVA_ERR_NOMEM, "%s: cannot create PNG decoder", what);
        goto done;
    }
    if (setjmp(png_jmpbuf(job->png))) {
        st = eva_fail(EVA_ERR_FORMAT, "%s: corrupt PNG: %s", what, job->msg);
        goto done;
    }
    png_set_read_fn(job->png, &job->src, on_read);
    /* Our own limits give the clear message; libpng's per-side limit is set to the PNG maximum. */
    png_set_user_limits(job->png, 0x7fffffff, 0x7fffffff);
    png_read_info(job->png, job->info);

    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(job->png, job->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    st = eva_image_check_size(w, h, opt->max_pixels, what);
    if (st != EVA_OK) goto done;

    const bool grey16 = depth == 16 && ctype == PNG_COLOR_TYPE_GRAY;
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(job->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(job->png);
    if (depth == 16 && !grey16) png_set_strip_16(job->png);
    if (grey16) png_set_swap(job->png);       /* native little-endian uint16 */
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);

    const int ch = png_get_channels(job->png, job->info);
    const size_t rowbytes = png_get_rowbytes(job->png, job->info);
    const size_t want = (size_t)w * (size_t)ch * (grey16 ? 2 : 1);
    if (ch < 1 || ch > 4 || rowbytes != want) {
        st = eva_fail(EVA_ERR_FORMAT, "%s: unexpected PNG layout (%d channels, %zu bytes per row)", what, ch, rowbytes);
        goto done;
    }
    size_t raw_size;
    if (!eva_size_mul(rowbytes, h, &raw_size)) {
        st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: PNG too large", what);
        goto done;
    }
    job->raw = eva_malloc(raw_size);
    job->rows = eva_malloc(sizeof(png_bytep) * h);
    job->pixels = eva_malloc((size_t)w * h * 3);
    if (!job->raw || !job->rows || !job->pixels) {
        st = EVA_ERR_NOMEM;
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++) job->rows[y] = job->raw + (size_t)y * rowbytes;
    png_read_image(job->png, job->rows);

    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *s = job->rows[y];
        uint8_t *d = job->pixels + (size_t)y * w * 3;
        for (png_uint_32 x = 0; x < w; x++, d += 3) {
            if (grey16) {
                unsigned v = (unsigned)s[2 * x] | (unsigned)s[2 * x + 1] << 8;
                d[0] = d[1] = d[2] = (uint8_t)(v > 255 ? 255 : v);
            } else if (ch <= 2) {
                d[0] = d[1] = d[2] = s[(size_t)x * ch];
            } else {
                memcpy(d, s + (size_t)x * ch, 3);
            }
        }
    }
    int orientation = 1;
#ifdef PNG_eXIf_SUPPORTED
    if (opt->exif_rotate) {
        png_uint_32 n = 0;
        png_bytep ex = NULL;
        if (png_get_eXIf_1(job->png, job->info, &n, &ex) && ex) orientation = eva_exif_orientation(ex, n);
    }
#endif
    out->width = (int)w;
    out->height = (int)h;
    out->data = job->pixels;
    job->pixels = NULL;
    st = eva_image_apply_orientation(out, orientation);
done:
    if (job->png) png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
    free(job->rows);
    free(job->raw);
    free(job->pixels);
    free(job);
    return st;
}
