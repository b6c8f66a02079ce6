/* fuzz_image.c — libFuzzer target: image decoding (JPEG / PNG / WebP) + the evaluation
 * transform on whatever decodes. The first input byte picks the transform parameters (size
 * 1..64, crop_pct, squash), the rest is the file. Pixel count is capped at 4M so that huge but
 * valid headers do not hit libFuzzer's memory limit; larger sizes are refused by design.
 *
 * Seeds: fuzz/corpus/fuzz_image/ (small PNG/JPEG/WebP/bad files from tests/data/preprocess/gen,
 * each prefixed with one selector byte). Run: fuzz/run.sh fuzz_image 600
 * Standalone build without CMake (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -mavx2 -D_GNU_SOURCE -DEVA_HAVE_WEBP=1
 *     -DEVA_VERSION_STRING='"0"' -Iinclude -Isrc fuzz/fuzz_image.c src/io/image*.c
 *     src/pipelines/preprocess.c src/pipelines/resize_avx2.c src/pipelines/presets.c src/base/(each .c file)
 *     -ljpeg -lpng -lwebp -lz -lm -lpthread -o fuzz_image */
#include "io/image.h"
#include "pipelines/preprocess.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t sel = data[0];
    eva_image_options o = {.exif_rotate = (sel & 0x80) != 0, .max_pixels = 1 << 22};
    eva_image img;
    if (eva_image_decode(data + 1, size - 1, &o, &img) != EVA_OK) return 0;
    eva_preprocess_params p;
    static const char *presets[4] = {"t224", "t336", "eva_21k_1k_336px_psz14_ema", "t560"};
    eva_preprocess_preset(presets[sel & 3], &p);
    p.size = 1 + ((sel >> 2) & 31) * 2;                 /* 1..63: keeps each run cheap */
    static const float pct[4] = {1.0f, 0.875f, 0.9f, 1.7f};   /* 1.7: crop larger than resize (padding) */
    p.crop_pct = pct[(sel >> 4) & 3];
    p.squash = (sel >> 6) & 1;
    const int S = p.size;
    float *x = malloc(sizeof(float) * 3 * (size_t)S * S);
    uint8_t *crop = malloc((size_t)S * S * 3);
    if (x && crop && eva_preprocess_image(&img, &p, x, crop) == EVA_OK) {
        volatile float sink = x[0] + crop[S * S * 3 - 1];
        (void)sink;
    }
    free(x);
    free(crop);
    eva_image_free(&img);
    return 0;
}
