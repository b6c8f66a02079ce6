/* cmd_preprocess.c — `eva preprocess IMAGE --preset NAME -o OUT.safetensors`: decode one image
 * and apply an evaluation transform; writes the uint8 crop and the normalised network input. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char help_preprocess[] =
    "usage: eva preprocess IMAGE --preset NAME -o OUT.safetensors [options]\n"
    "\n"
    "Decode IMAGE (JPEG, PNG or WebP, detected from its bytes) to RGB exactly as Pillow 9.4 does and\n"
    "apply an evaluation transform bit-exactly (Pillow bicubic resize, center crop, ToTensor,\n"
    "Normalize in float32). Writes a safetensors file with\n"
    "  crop_u8  [S, S, 3] U8    the image after resize + crop (HWC, RGB)\n"
    "  input    [1, 3, S, S] F32 the normalised tensor a model takes\n"
    "\n"
    "options:\n"
    "  --preset NAME        model name: official (eva_21k_1k_336px_psz14_ema, eva_21k_1k_560px_psz14_ema,\n"
    "                       eva_21k_224px_psz14, eva_psz14, eva_psz14to16, eva_clip_psz14), timm\n"
    "                       (eva_giant_patch14_224.clip_ft_in1k, eva_giant_patch14_336.clip_ft_in1k,\n"
    "                       eva_giant_patch14_336.m30m_ft_in22k_in1k, eva_giant_patch14_560.m30m_ft_in22k_in1k,\n"
    "                       eva_giant_patch14_clip_224.laion400m, bare arch names) or t224 / t336 / t560\n"
    "  --preprocess FAMILY  official | timm: which transform a name gets (default: the name's own family;\n"
    "                       official = shorter side to S/crop_pct, center crop, CLIP mean/std, crop_pct 1.0)\n"
    "  --size S             output size (overrides the preset; without --preset: official transform)\n"
    "  --crop-pct F         resize to floor(S / F) before the crop\n"
    "  --resize MODE        shortest (keep aspect, then center crop) | squash (to a square)\n"
    "  --mean a,b,c         normalisation mean (default from the preset)\n"
    "  --std a,b,c          normalisation std\n"
    "  --exif-rotate        apply the EXIF orientation tag (off by default, as in timm / EVA-01)\n"
    "  -o, --output PATH    output .safetensors (written atomically)\n"
    "  -v, --verbose        print the transform and the image geometry\n"
    "  --repeat N           benchmark: decode + transform N more times, print images/s (one thread)\n";

static double eva_now_seconds_cli(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool parse_triple(const char *s, float v[3]) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    for (int i = 0; i < 3; i++) {
        double d;
        if (!tok || !cli_parse_double(tok, &d)) return false;
        v[i] = (float)d;
        tok = strtok_r(NULL, ",", &save);
    }
    return tok == NULL;
}

int cmd_preprocess(int argc, char **argv) {
    const char *cmd = "preprocess";
    const char *image = NULL, *preset = NULL, *family = NULL, *outp = NULL, *resize = NULL;
    const char *mean_s = NULL, *std_s = NULL;
    int size = 0, verbose = 0, exif = 0, repeat = 0;
    double crop_pct = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--preset") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &preset)) return 2; }
        else if (strcmp(a, "--preprocess") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &family)) return 2; }
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &outp)) return 2; }
        else if (strcmp(a, "--size") == 0) { if (!cli_take_int(cmd, argc, argv, &i, &size)) return 2; }
        else if (strcmp(a, "--crop-pct") == 0) { if (!cli_take_double(cmd, argc, argv, &i, &crop_pct)) return 2; }
        else if (strcmp(a, "--resize") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &resize)) return 2; }
        else if (strcmp(a, "--mean") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &mean_s)) return 2; }
        else if (strcmp(a, "--std") == 0) { if (!cli_take_str(cmd, argc, argv, &i, &std_s)) return 2; }
        else if (strcmp(a, "--repeat") == 0) { if (!cli_take_int(cmd, argc, argv, &i, &repeat)) return 2; }
        else if (strcmp(a, "--exif-rotate") == 0) exif = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) verbose = 1;
        else if (a[0] == '-' && a[1]) return cli_usage(cmd, "unknown option '%s'", a);
        else if (!image) image = a;
        else return cli_usage(cmd, "more than one image given ('%s' and '%s')", image, a);
    }
    if (!image) return cli_usage(cmd, "no image given");
    if (!outp) return cli_usage(cmd, "no output given (-o OUT.safetensors)");
    if (!preset && size <= 0) return cli_usage(cmd, "give --preset NAME or --size S");

    eva_preprocess_params p;
    eva_status st;
    if (preset) {
        if ((st = eva_preprocess_preset_family(preset, family, &p)) != EVA_OK) return cli_lib_error(cmd, st);
    } else {
        if (family && strcmp(family, "official") != 0 && strcmp(family, "timm") != 0)
            return cli_usage(cmd, "--preprocess expects official or timm, got '%s'", family);
        memset(&p, 0, sizeof p);
        const char *base = family && strcmp(family, "timm") == 0 ? "eva_giant_patch14_224.clip_ft_in1k" : "eva_psz14";
        if ((st = eva_preprocess_preset_family(base, NULL, &p)) != EVA_OK) return cli_lib_error(cmd, st);
    }
    if (size > 0) p.size = size;
    else if (size < 0) return cli_usage(cmd, "--size must be positive");
    if (crop_pct != 0) p.crop_pct = (float)crop_pct;
    if (resize) {
        if (strcmp(resize, "shortest") == 0) p.squash = 0;
        else if (strcmp(resize, "squash") == 0) p.squash = 1;
        else return cli_usage(cmd, "--resize expects shortest or squash, got '%s'", resize);
    }
    if (mean_s && !parse_triple(mean_s, p.mean)) return cli_usage(cmd, "--mean expects three numbers a,b,c, got '%s'", mean_s);
    if (std_s && !parse_triple(std_s, p.std)) return cli_usage(cmd, "--std expects three numbers a,b,c, got '%s'", std_s);
    if (exif) p.exif_rotate = true;

    const int S = p.size;
    if (S < 1 || S > 8192) return cli_usage(cmd, "--size %d out of range 1..8192", S);
    eva_image_options io = {.exif_rotate = p.exif_rotate, .max_pixels = 0};
    eva_image img;
    if ((st = eva_image_load(image, &io, &img)) != EVA_OK) return cli_lib_error(cmd, st);
    uint8_t *crop = malloc((size_t)S * S * 3);
    float *x = malloc(sizeof(float) * 3 * (size_t)S * S);
    int rc = 0;
    if (!crop || !x) {
        rc = cli_error(cmd, "out of memory");
        goto done;
    }
    if ((st = eva_preprocess_image(&img, &p, x, crop)) != EVA_OK) {
        rc = cli_lib_error(cmd, st);
        goto done;
    }
    if (verbose)
        fprintf(stderr, "eva preprocess: %s %dx%d -> size %d crop_pct %g %s mean (%g, %g, %g) std (%g, %g, %g)\n", image,
                img.width, img.height, S, (double)p.crop_pct, p.squash ? "squash" : "shortest", (double)p.mean[0],
                (double)p.mean[1], (double)p.mean[2], (double)p.std[0], (double)p.std[1], (double)p.std[2]);
    if (repeat > 0) {
        /* Whole path per image as a loader would run it: read + decode + resize + crop + normalise. */
        double t0 = eva_now_seconds_cli(CLOCK_MONOTONIC), c0 = eva_now_seconds_cli(CLOCK_PROCESS_CPUTIME_ID);
        for (int r = 0; r < repeat && st == EVA_OK; r++) st = eva_preprocess_file(image, &p, x, crop);
        double dt = eva_now_seconds_cli(CLOCK_MONOTONIC) - t0, ct = eva_now_seconds_cli(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (st != EVA_OK) {
            rc = cli_lib_error(cmd, st);
            goto done;
        }
        printf("%s: %d x decode+preprocess: wall %.3f s, cpu %.3f s = %.1f images/s per core (%.3f ms/image)\n", image,
               repeat, dt, ct, repeat / ct, 1e3 * ct / repeat);
    }
    eva_tensor_writer *w = NULL;
    const int64_t shape_u8[3] = {S, S, 3}, shape_in[4] = {1, 3, S, S};
    char num[64];
    snprintf(num, sizeof num, "%d", S);
    if ((st = eva_tensor_writer_create(&w)) != EVA_OK ||
        (st = eva_tensor_writer_add(w, "crop_u8", EVA_U8, 3, shape_u8, crop)) != EVA_OK ||
        (st = eva_tensor_writer_add(w, "input", EVA_F32, 4, shape_in, x)) != EVA_OK ||
        (st = eva_tensor_writer_set_metadata(w, "preset", preset ? preset : "custom")) != EVA_OK ||
        (st = eva_tensor_writer_set_metadata(w, "size", num)) != EVA_OK ||
        (st = eva_tensor_writer_save(w, outp)) != EVA_OK)
        rc = cli_lib_error(cmd, st);
    eva_tensor_writer_free(w);
done:
    free(crop);
    free(x);
    eva_image_free(&img);
    return rc;
}
