/* png_write.h — write an 8-bit grey or RGB image as PNG with libpng, atomically. */
#ifndef EVA_IO_PNG_WRITE_H
#define EVA_IO_PNG_WRITE_H

#include "base/base.h"

/* pixels: [h, w, channels], channels 1 (grey) or 3 (RGB) */
eva_status eva_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels);

#endif
