/* image_jpeg.c — JPEG -> RGB8 with libjpeg-turbo, matching Pillow 9.4 bit for bit.
 *
 * Pillow leaves libjpeg at its defaults (JDCT_ISLOW accurate integer IDCT, fancy chroma
 * upsampling on), asks for JCS_RGB for 3-component files, JCS_GRAYSCALE for 1 and JCS_CMYK for 4
 * (libjpeg converts YCCK to CMYK), and treats CMYK as Adobe-inverted ("CMYK;I"), then
 * convert('RGB') applies its cmyk2rgb. We set the same options explicitly.
 *
 * libjpeg's default error handler calls exit(): we replace it with a longjmp back here, and route
 * warnings to a flag (a premature end of data is an error, as Pillow reports "image file is
 * truncated"; other corrupt-data warnings are tolerated, as Pillow tolerates them). */
#include "io/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (msg_level -1) are silent, except running out of data, which aborts the decode. */
static void on_emit_message(j_common_ptr cinfo, int msg_level) {
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    if (msg_level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            snprintf(e->msg, sizeof e->msg, "file is truncated (premature end of JPEG data)");
            longjmp(e->jb, 1);
        }
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Pillow Convert.c cmyk2rgb after the "CMYK;I" unpacker inverted every channel. */
static inline uint8_t muldiv255(int a, int b) {
    int t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}
static inline uint8_t clip8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int c = 255 - in[0], m = 255 - in[1], y = 255 - in[2], k = 255 - in[3];
        int nk = 255 - k;
        out[0] = clip8(nk - muldiv255(c, nk));
        out[1] = clip8(nk - muldiv255(m, nk));
        out[2] = clip8(nk - muldiv255(y, nk));
    }
}

/* All state that must survive a longjmp lives in this struct (not in locals of the setjmp caller). */
typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    jerr_ctx err;
    uint8_t *row;        /* scratch scanline for grey/CMYK */
    uint8_t *pixels;
} jpeg_job;

eva_status eva_decode_jpeg(const uint8_t *data, size_t size, const char *what,
                           const eva_image_options *opt, eva_image *out) {
    jpeg_job *job = eva_calloc(1, sizeof *job);
    if (!job) return EVA_ERR_NOMEM;
    eva_status st = EVA_OK;
    struct jpeg_decompress_struct *ci = &job->cinfo;
    ci->err = jpeg_std_error(&job->err.pub);
    job->err.pub.error_exit = on_error_exit;
    job->err.pub.emit_message = on_emit_message;
    job->err.pub.output_message = on_output_message;
    if (setjmp(job->err.jb)) {
        st = eva_fail(EVA_ERR_FORMAT, "%s: corrupt JPEG: %s", what, job->err.msg);
        goto done;
    }
    jpeg_create_decompress(ci);
    if (size > (unsigned long)-1) {
        st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: JPEG too large", what);
        goto done;
    }
    jpeg_mem_src(ci, data, (unsigned long)size);
    if (opt->exif_rotate) jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);

    st = eva_image_check_size(ci->image_width, ci->image_height, opt->max_pixels, what);
    if (st != EVA_OK) goto done;
    int nc = ci->num_components;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK; break;
    default:
        if (nc != 3) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported", what, nc);
            goto done;
        }
        ci->out_color_space = JCS_RGB;
        break;
    }
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;
    ci->do_block_smoothing = TRUE;   /* libjpeg default, as Pillow leaves it */
    jpeg_start_decompress(ci);

    const int w = (int)ci->output_width, h = (int)ci->output_height, oc = ci->output_components;
    st = eva_image_check_size(w, h, opt->max_pixels, what);
    if (st != EVA_OK) goto done;
    job->pixels = eva_malloc((size_t)w * h * 3);
    job->row = eva_malloc((size_t)w * (size_t)oc);
    if (!job->pixels || !job->row) {
        st = EVA_ERR_NOMEM;
        goto done;
    }
    while (ci->output_scanline < ci->output_height) {
        int y = (int)ci->output_scanline;
        uint8_t *dst = job->pixels + (size_t)y * w * 3;
        JSAMPROW rp = oc == 3 ? dst : job->row;
        if (jpeg_read_scanlines(ci, &rp, 1) != 1) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: corrupt JPEG: no scanline %d", what, y);
            goto done;
        }
        if (oc == 1) {
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = job->row[x];
        } else if (oc == 4) {
            cmyk_row_to_rgb(job->row, dst, w);
        }
    }
    int orientation = 1;
    if (opt->exif_rotate)
        for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
            if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
                orientation = eva_exif_orientation(m->data, m->data_length);
                break;
            }
    jpeg_finish_decompress(ci);
    out->width = w;
    out->height = h;
    out->data = job->pixels;
    job->pixels = NULL;
    st = eva_image_apply_orientation(out, orientation);
done:
    jpeg_destroy_decompress(ci);
    free(job->row);
    free(job->pixels);
    free(job);
    return st;
}
