/* image_webp.c — WebP -> RGB8 with libwebp (only when built with EVA_HAVE_WEBP).
 * Pillow 9.4 decodes WebP to RGBA/RGBX (non-premultiplied) and convert('RGB') drops alpha; we
 * decode to RGBA the same way and keep the first three channels. Animated files: only the first
 * frame's bitstream is decoded by WebPDecode (Pillow would composite frames; not supported). */
#include "io/image.h"

#include <stdlib.h>

#ifdef EVA_HAVE_WEBP
#include <webp/decode.h>

eva_status eva_decode_webp(const uint8_t *data, size_t size, const char *what,
                           const eva_image_options *opt, eva_image *out) {
    WebPBitstreamFeatures f;
    VP8StatusCode vs = WebPGetFeatures(data, size, &f);
    if (vs == VP8_STATUS_NOT_ENOUGH_DATA)
        return eva_fail(EVA_ERR_FORMAT, "%s: file is truncated (premature end of WebP data)", what);
    if (vs != VP8_STATUS_OK) return eva_fail(EVA_ERR_FORMAT, "%s: corrupt WebP header (libwebp status %d)", what, (int)vs);
    if (f.has_animation) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: animated WebP is not supported", what);
    eva_status st = eva_image_check_size(f.width, f.height, opt->max_pixels, what);
    if (st != EVA_OK) return st;
    const size_t n = (size_t)f.width * (size_t)f.height;
    uint8_t *rgba = eva_malloc(n * 4);
    uint8_t *rgb = eva_malloc(n * 3);
    if (!rgba || !rgb) {
        free(rgba);
        free(rgb);
        return EVA_ERR_NOMEM;
    }
    if (!WebPDecodeRGBAInto(data, size, rgba, n * 4, f.width * 4)) {
        free(rgba);
        free(rgb);
        return eva_fail(EVA_ERR_FORMAT, "%s: corrupt or truncated WebP data", what);
    }
    for (size_t i = 0; i < n; i++) memcpy(rgb + 3 * i, rgba + 4 * i, 3);
    free(rgba);
    out->width = f.width;
    out->height = f.height;
    out->data = rgb;
    return EVA_OK;
}
#else
eva_status eva_decode_webp(const uint8_t *data, size_t size, const char *what,
                           const eva_image_options *opt, eva_image *out) {
    (void)data; (void)size; (void)opt; (void)out;
    return eva_fail(EVA_ERR_UNSUPPORTED, "%s: WebP support was not built in (libwebp not found)", what);
}
#endif
