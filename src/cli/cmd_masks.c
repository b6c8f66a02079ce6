/* cmd_masks.c — `eva masks`: draw block-wise MIM masks (EVA-01 masking generator) and write
 * them as a U8 tensor `masks` [N, H*W] (1 = masked), optionally as a PNG contact sheet. */
#include "cli.h"
#include "train/masking.h"

#include <errno.h>
#include "io/png_write.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_masks[] =
    "usage: eva masks -o MASKS.safetensors [options]\n"
    "\n"
    "Draw N block-wise masks with the EVA-01 / BEiT masking generator (the official algorithm,\n"
    "driven by eva.c's Philox RNG: same distribution as the Python generator, not the same bits)\n"
    "and write them as the U8 tensor `masks` of shape [N, H*W], index row*W + col, 1 = masked.\n"
    "Defaults are the official pre-training parameters.\n"
    "\n"
    "options:\n"
    "  --grid HxW          patch grid (default 16x16 = 224 px / patch 14)\n"
    "  --count K           patches to mask per image (default 105); a mask may end with fewer\n"
    "  --min-block A       smallest block area (default 16)\n"
    "  --max-block B       largest block area (default: K)\n"
    "  --min-aspect R      aspect ratio range [R, 1/R], log-uniform (default 0.3)\n"
    "  --max-aspect R2     upper end of the aspect range (default 1/R)\n"
    "  -n N                number of masks (default 1)\n"
    "  --seed S            RNG seed (default 0); mask i depends only on (S, i)\n"
    "  -o PATH             output .safetensors (required)\n"
    "  --png PATH          also draw a sheet: one cell per mask, white = masked\n"
    "\n"
    "example: eva masks --grid 16x16 --count 105 --min-block 16 -n 64 --seed 1 -o m.safetensors --png m.png\n";

static const char *CMD = "masks";

static bool parse_grid(const char *s, int *h, int *w) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X')) return false;
    const char *t = end + 1;
    long b = strtol(t, &end, 10);
    if (errno || end == t || *end || a < 1 || b < 1 || a > 4096 || b > 4096) return false;
    *h = (int)a;
    *w = (int)b;
    return true;
}

/* Contact sheet: cols x rows cells of (W*s) x (H*s) pixels, 1-pixel grey gaps, 8-bit grey. */
static eva_status write_png(const char *path, const uint8_t *masks, int64_t n, int H, int W) {
    int cols = 1;
    while ((int64_t)cols * cols < n) cols++;
    int rows = (int)((n + cols - 1) / cols);
    int scale = 8;
    while (scale > 1 && ((int64_t)cols * (W * scale + 1) > 8192 || (int64_t)rows * (H * scale + 1) > 8192)) scale--;
    int64_t pw = (int64_t)cols * (W * scale + 1) + 1, ph = (int64_t)rows * (H * scale + 1) + 1;
    if (pw > 65535 || ph > 65535)
        return eva_fail(EVA_ERR_INVALID_ARG, "%s: %lld masks of %dx%d make a %lldx%lld sheet, too large for a PNG",
                        path, (long long)n, H, W, (long long)pw, (long long)ph);
    uint8_t *img = malloc((size_t)pw * (size_t)ph);
    if (!img) return eva_fail(EVA_ERR_NOMEM, "%s: no memory for the sheet", path);
    memset(img, 96, (size_t)pw * (size_t)ph);
    for (int64_t k = 0; k < n; k++) {
        int64_t x0 = (k % cols) * (W * scale + 1) + 1, y0 = (k / cols) * (H * scale + 1) + 1;
        const uint8_t *m = masks + (size_t)k * H * W;
        for (int y = 0; y < H * scale; y++)
            for (int x = 0; x < W * scale; x++)
                img[(size_t)(y0 + y) * pw + (size_t)(x0 + x)] = m[(y / scale) * W + x / scale] ? 255 : 0;
    }
    eva_status st = eva_png_write(path, (int)pw, (int)ph, 1, img);
    free(img);
    return st;
}

int cmd_masks(int argc, char **argv) {
    eva_mask_config cfg = eva_mask_config_official();
    int n = 1;
    double seed_d = 0;
    const char *out = NULL, *png = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--grid") == 0) {
            const char *s;
            if (!cli_take_str(CMD, argc, argv, &i, &s)) return 2;
            if (!parse_grid(s, &cfg.height, &cfg.width))
                return cli_usage(CMD, "--grid expects HxW with 1 <= H, W <= 4096 (e.g. 16x16), got '%s'", s);
        } else if (strcmp(a, "--count") == 0) {
            if (!cli_take_int(CMD, argc, argv, &i, &cfg.num_masking_patches)) return 2;
        } else if (strcmp(a, "--min-block") == 0) {
            if (!cli_take_int(CMD, argc, argv, &i, &cfg.min_num_patches)) return 2;
        } else if (strcmp(a, "--max-block") == 0) {
            if (!cli_take_int(CMD, argc, argv, &i, &cfg.max_num_patches)) return 2;
            if (cfg.max_num_patches < 1) return cli_usage(CMD, "--max-block must be >= 1, got %d", cfg.max_num_patches);
        } else if (strcmp(a, "--min-aspect") == 0) {
            if (!cli_take_double(CMD, argc, argv, &i, &cfg.min_aspect)) return 2;
            if (!(cfg.min_aspect > 0)) return cli_usage(CMD, "--min-aspect must be > 0, got %g", cfg.min_aspect);
        } else if (strcmp(a, "--max-aspect") == 0) {
            if (!cli_take_double(CMD, argc, argv, &i, &cfg.max_aspect)) return 2;
            if (!(cfg.max_aspect > 0)) return cli_usage(CMD, "--max-aspect must be > 0, got %g", cfg.max_aspect);
        } else if (strcmp(a, "-n") == 0) {
            if (!cli_take_int(CMD, argc, argv, &i, &n)) return 2;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_take_double(CMD, argc, argv, &i, &seed_d)) return 2;
            if (seed_d < 0 || seed_d > 9007199254740992.0 || seed_d != (double)(int64_t)seed_d)
                return cli_usage(CMD, "--seed expects a non-negative integer, got '%s'", argv[i]);
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!cli_take_str(CMD, argc, argv, &i, &out)) return 2;
        } else if (strcmp(a, "--png") == 0) {
            if (!cli_take_str(CMD, argc, argv, &i, &png)) return 2;
        } else {
            return cli_usage(CMD, "unknown option '%s'", a);
        }
    }
    if (!out) return cli_usage(CMD, "-o PATH is required");
    if (n < 1 || n > 10000000) return cli_usage(CMD, "-n must be in [1, 10000000], got %d", n);
    int64_t cells = (int64_t)cfg.height * cfg.width;
    if (cfg.num_masking_patches < 1 || cfg.num_masking_patches > cells)
        return cli_usage(CMD, "--count %d must be in [1, %lld] for a %dx%d grid", cfg.num_masking_patches,
                         (long long)cells, cfg.height, cfg.width);
    if (cfg.min_num_patches < 1 || cfg.min_num_patches > cfg.num_masking_patches)
        return cli_usage(CMD, "--min-block %d must be in [1, --count %d]", cfg.min_num_patches, cfg.num_masking_patches);
    eva_status st = eva_mask_config_resolve(&cfg);
    if (st != EVA_OK) return cli_lib_error(CMD, st);
    if ((int64_t)n * cells > ((int64_t)1 << 31))
        return cli_usage(CMD, "%d masks of %lld cells exceed 2 GiB", n, (long long)cells);

    uint8_t *masks = malloc((size_t)n * (size_t)cells);
    int *counts = malloc((size_t)n * sizeof(int));
    if (!masks || !counts) {
        free(masks);
        free(counts);
        return cli_error(CMD, "out of memory for %d masks", n);
    }
    int rc = 0;
    st = eva_mask_generate_batch(&cfg, (uint64_t)seed_d, n, masks, counts);
    eva_tensor_writer *w = NULL;
    if (st == EVA_OK) st = eva_tensor_writer_create(&w);
    int64_t shape[2] = {n, cells};
    char buf[160];
    if (st == EVA_OK) st = eva_tensor_writer_add(w, "masks", EVA_U8, 2, shape, masks);
    snprintf(buf, sizeof buf, "%dx%d", cfg.height, cfg.width);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "grid", buf);
    snprintf(buf, sizeof buf, "count=%d min_block=%d max_block=%d min_aspect=%.17g max_aspect=%.17g seed=%.0f",
             cfg.num_masking_patches, cfg.min_num_patches, cfg.max_num_patches, cfg.min_aspect, cfg.max_aspect, seed_d);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "generator", buf);
    /* the PNG first: if it fails, no output is left behind */
    if (st == EVA_OK && png) st = write_png(png, masks, n, cfg.height, cfg.width);
    if (st == EVA_OK) st = eva_tensor_writer_save(w, out);
    if (st != EVA_OK) {
        rc = cli_lib_error(CMD, st);
        if (png) remove(png);
    } else {
        double mean = 0;
        int full = 0;
        for (int i = 0; i < n; i++) {
            mean += counts[i];
            full += counts[i] == cfg.num_masking_patches;
        }
        printf("wrote %d masks (%dx%d, target %d) to %s: mean masked %.3f, %.1f%% reach the target\n", n, cfg.height,
               cfg.width, cfg.num_masking_patches, out, mean / n, 100.0 * full / n);
    }
    eva_tensor_writer_free(w);
    free(masks);
    free(counts);
    return rc;
}
