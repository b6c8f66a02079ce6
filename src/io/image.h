/* image.h — decode JPEG / PNG / WebP bytes into 8-bit RGB exactly as Pillow 9.4's
 * `Image.open(f).convert('RGB')` does (the first step of every EVA evaluation transform).
 *
 * Format is detected from magic bytes, never from the file name. Sizes come from untrusted
 * headers: the dimensions are checked against the limits below BEFORE any pixel buffer is
 * allocated. The public entry points (eva_image_load / eva_image_decode / eva_image_free) are
 * declared in eva.h; this header adds the internal helpers. */
#ifndef EVA_IO_IMAGE_H
#define EVA_IO_IMAGE_H

#include "base/base.h"

/* Limits (documented in eva.h): at most 65535 pixels per side, and at most
 * EVA_IMAGE_MAX_PIXELS pixels in all (Pillow's DecompressionBombError threshold,
 * 2 * 89478485), unless the caller passes a smaller max_pixels. */
#define EVA_IMAGE_MAX_SIDE 65535
#define EVA_IMAGE_DEFAULT_MAX_PIXELS 178956970LL

typedef enum eva_image_format {
    EVA_IMAGE_UNKNOWN = 0,
    EVA_IMAGE_JPEG,
    EVA_IMAGE_PNG,
    EVA_IMAGE_WEBP,
} eva_image_format;

/* Sniff the first bytes. Returns EVA_IMAGE_UNKNOWN when nothing matches. */
eva_image_format eva_image_sniff(const uint8_t *data, size_t size);
const char *eva_image_format_name(eva_image_format f);

/* Check w x h against the limits; `what` names the source in the message. */
eva_status eva_image_check_size(int64_t w, int64_t h, int64_t max_pixels, const char *what);

/* Apply an EXIF orientation (1..8, as Pillow's ImageOps.exif_transpose) in place: may swap
 * width and height. Orientation values outside 2..8 leave the image unchanged. */
eva_status eva_image_apply_orientation(eva_image *img, int orientation);

/* Parse the orientation tag (0x0112) of a TIFF/EXIF block ("Exif\0\0" prefix optional).
 * Returns 1 when absent or malformed. */
int eva_exif_orientation(const uint8_t *data, size_t size);

/* Per-format decoders (image.c dispatches to these). `what` is used in messages. */
eva_status eva_decode_jpeg(const uint8_t *data, size_t size, const char *what,
                           const eva_image_options *opt, eva_image *out);
eva_status eva_decode_png(const uint8_t *data, size_t size, const char *what,
                          const eva_image_options *opt, eva_image *out);
eva_status eva_decode_webp(const uint8_t *data, size_t size, const char *what,
                           const eva_image_options *opt, eva_image *out);

#endif
