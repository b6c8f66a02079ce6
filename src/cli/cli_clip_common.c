/* cli_clip_common.c — shared helpers of the EVA-CLIP commands (see cli_clip.h). */
#include "cli_clip.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

eva_clip *cli_clip_open(const char *cmd, const char *path, int threads, int text_heads) {
    if (!path) {
        cli_usage(cmd, "--model CLIP.safetensors|.pt is required");
        return NULL;
    }
    eva_clip_params p = eva_clip_default_params();
    p.n_threads = threads;
    p.text_heads = text_heads;
    eva_clip *c = NULL;
    eva_status st = eva_clip_load(path, &p, &c);
    if (st != EVA_OK) {
        cli_lib_error(cmd, st);
        return NULL;
    }
    return c;
}

static bool ends_with(const char *s, const char *x) {
    size_t a = strlen(s), b = strlen(x);
    return a >= b && strcmp(s + a - b, x) == 0;
}

static int grow(const char *cmd, cli_images *im, int add) {
    size_t per = (size_t)3 * im->S * im->S;
    float *p = realloc(im->pixels, sizeof(float) * per * (size_t)(im->n + add));
    char **nm = realloc(im->names, sizeof(char *) * (size_t)(im->n + add));
    if (p) im->pixels = p;
    if (nm) im->names = nm;
    if (!p || !nm) return cli_error(cmd, "out of memory");
    return 0;
}

static int load_tensor_images(const char *cmd, const char *arg, cli_images *im) {
    const char *name = NULL;
    char *path = strstr(arg, ".safetensors:") ? cli_split_tensor_spec(arg, NULL, &name) : strdup(arg);
    if (!path) return cli_error(cmd, "out of memory");
    eva_tensor_file *f;
    eva_status st = eva_tensor_file_open(path, &f);
    if (st != EVA_OK) {
        free(path);
        return cli_lib_error(cmd, st);
    }
    eva_tensor_view v;
    if (name) st = eva_tensor_file_find(f, name, &v);
    else if (eva_tensor_file_find(f, "input.images", &v) == EVA_OK) st = EVA_OK;
    else if (eva_tensor_file_count(f) == 1) st = eva_tensor_file_get(f, 0, &v);
    else st = EVA_ERR_MISSING;
    int rc = 0;
    if (st != EVA_OK) {
        rc = name ? cli_lib_error(cmd, st)
                  : cli_error(cmd, "%s: no 'input.images' tensor (name one with FILE.safetensors:NAME)", path);
    } else {
        int64_t S = im->S;
        bool one = v.ndim == 3 && v.shape[0] == 3 && v.shape[1] == S && v.shape[2] == S;
        bool batch = v.ndim == 4 && v.shape[1] == 3 && v.shape[2] == S && v.shape[3] == S && v.shape[0] >= 1 &&
                     v.shape[0] <= 100000;
        if (!one && !batch) {
            rc = cli_error(cmd, "%s: tensor '%s' must be [3,%d,%d] or [B,3,%d,%d] (preprocessed for this model)", path,
                           v.name, im->S, im->S, im->S, im->S);
        } else {
            int B = one ? 1 : (int)v.shape[0];
            if (!(rc = grow(cmd, im, B))) {
                st = eva_tensor_convert_f32(&v, im->pixels + (size_t)im->n * 3 * S * S);
                if (st != EVA_OK) rc = cli_lib_error(cmd, st);
                for (int b = 0; b < B && !rc; b++) {
                    size_t len = strlen(arg) + 24;
                    char *nm = malloc(len);
                    if (!nm) { rc = cli_error(cmd, "out of memory"); break; }
                    if (one) snprintf(nm, len, "%s", arg);
                    else snprintf(nm, len, "%s[%d]", arg, b);
                    im->names[im->n++] = nm;
                }
            }
        }
    }
    eva_tensor_file_close(f);
    free(path);
    return rc;
}

int cli_images_load(const char *cmd, const eva_clip_info *ci, const char *preset, char **args, int n_args, cli_images *im) {
    memset(im, 0, sizeof *im);
    if (!ci->has_vision) return cli_error(cmd, "this CLIP file has no vision tower");
    im->S = ci->img_size;
    eva_preprocess_params pp;
    eva_status st = eva_preprocess_preset(preset ? preset : "eva_clip_psz14", &pp);
    if (st != EVA_OK) return cli_lib_error(cmd, st);
    pp.size = ci->img_size;   /* the model's resolution (the preset's crop/mean/std kept) */
    for (int i = 0; i < n_args; i++) {
        const char *a = args[i];
        int rc;
        if (ends_with(a, ".safetensors") || strstr(a, ".safetensors:")) {
            rc = load_tensor_images(cmd, a, im);
        } else {
            rc = grow(cmd, im, 1);
            if (!rc) {
                st = eva_preprocess_file(a, &pp, im->pixels + (size_t)im->n * 3 * im->S * im->S, NULL);
                if (st != EVA_OK) rc = cli_lib_error(cmd, st);
                else if (!(im->names[im->n] = strdup(a))) rc = cli_error(cmd, "out of memory");
                else im->n++;
            }
        }
        if (rc) {
            cli_images_free(im);
            return rc;
        }
    }
    return 0;
}

void cli_images_free(cli_images *im) {
    for (int i = 0; i < im->n; i++) free(im->names[i]);
    free(im->names);
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

int cli_read_lines(const char *cmd, const char *path, bool skip_blank, char ***lines_out, int *n_out) {
    *lines_out = NULL;
    *n_out = 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return cli_error(cmd, "cannot open %s", path);
    char **lines = NULL, *buf = NULL;
    size_t cap = 0;
    int n = 0, ncap = 0, rc = 0;
    ssize_t len;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
        if (skip_blank) {
            bool blank = true;
            for (ssize_t k = 0; k < len && blank; k++) blank = isspace((unsigned char)buf[k]) != 0;
            if (blank) continue;
        }
        if (n == ncap) {
            ncap = ncap ? 2 * ncap : 64;
            char **nl = realloc(lines, sizeof(char *) * (size_t)ncap);
            if (!nl) { rc = cli_error(cmd, "out of memory"); break; }
            lines = nl;
        }
        if (!(lines[n] = strdup(buf))) { rc = cli_error(cmd, "out of memory"); break; }
        n++;
    }
    if (!rc && ferror(f)) rc = cli_error(cmd, "error reading %s", path);
    free(buf);
    if (f != stdin) fclose(f);
    if (rc) {
        cli_free_lines(lines, n);
        return rc;
    }
    *lines_out = lines;
    *n_out = n;
    return 0;
}

void cli_free_lines(char **lines, int n) {
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
