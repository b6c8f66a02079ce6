/* png_write.c — PNG output through libpng (mask sheets, confusion matrices), written to a
 * temporary file that is renamed only when complete. */
#include "io/png_write.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>

eva_status eva_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels) {
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535 || !pixels || (channels != 1 && channels != 3))
        return eva_fail(EVA_ERR_INVALID_ARG, "%s: cannot write a %dx%dx%d PNG", path, w, h, channels);
    eva_atomic_file af;
    eva_status st = eva_atomic_open(&af, path);
    if (st != EVA_OK) return st;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        eva_atomic_abort(&af);
        return eva_fail(EVA_ERR_NOMEM, "%s: libpng could not start", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        eva_atomic_abort(&af);
        return eva_fail(EVA_ERR_IO, "%s: writing the PNG failed", path);
    }
    png_init_io(png, (FILE *)af.fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * w * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return eva_atomic_commit(&af);
}
