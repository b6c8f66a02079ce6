/* cli_images.c — image lists and parallel decode + preprocess for classify / embed. */
#include "cli_images.h"
#include "base/base.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int push(cli_paths *p, const char *s) {
    if (p->n == p->cap) {
        int nc = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, sizeof(char *) * (size_t)nc);
        if (!v) return 1;
        p->v = v;
        p->cap = nc;
    }
    p->v[p->n] = strdup(s);
    return p->v[p->n++] ? 0 : 1;
}

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") || !strcasecmp(dot, ".webp");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int walk(const char *cmd, cli_paths *p, const char *dir, int depth) {
    if (depth > 64) return cli_error(cmd, "%s: directories nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d) return cli_error(cmd, "%s: cannot read directory: %s", dir, strerror(errno));
    cli_paths names = {0};
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && push(&names, e->d_name)) {
            closedir(d);
            cli_paths_free(&names);
            return cli_error(cmd, "out of memory");
        }
    closedir(d);
    if (names.n > 1) qsort(names.v, (size_t)names.n, sizeof(char *), cmp_str);   /* v is NULL when empty */
    int rc = 0;
    for (int i = 0; i < names.n && !rc; i++) {
        size_t len = strlen(dir) + strlen(names.v[i]) + 2;
        char *full = malloc(len);
        if (!full) { rc = cli_error(cmd, "out of memory"); break; }
        size_t dl = strlen(dir);
        snprintf(full, len, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names.v[i]);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) rc = walk(cmd, p, full, depth + 1);
        else if (is_image_name(names.v[i])) rc = push(p, full) ? cli_error(cmd, "out of memory") : 0;
        free(full);
    }
    cli_paths_free(&names);
    return rc;
}

int cli_paths_add(const char *cmd, cli_paths *p, const char *arg) {
    if (arg[0] == '@') {
        FILE *f = fopen(arg + 1, "r");
        if (!f) return cli_error(cmd, "%s: cannot open list: %s", arg + 1, strerror(errno));
        char line[8192];
        while (fgets(line, sizeof line, f)) {
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!n || line[0] == '#') continue;
            if (push(p, line)) { fclose(f); return cli_error(cmd, "out of memory"); }
        }
        fclose(f);
        return 0;
    }
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) return walk(cmd, p, arg, 0);
    return push(p, arg) ? cli_error(cmd, "out of memory") : 0;
}

void cli_paths_free(cli_paths *p) {
    for (int i = 0; i < p->n; i++) free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

typedef struct {
    char *const *paths;
    const eva_preprocess_params *pp;
    const eva_image_options *io;
    float *images;
    bool *ok;
    char **errors;
} load_job;

static void load_task(void *ctx, int i, int thread) {
    (void)thread;
    load_job *j = ctx;
    size_t per = (size_t)3 * j->pp->size * j->pp->size;
    eva_image img;
    eva_status st = eva_image_load(j->paths[i], j->io, &img);
    if (st == EVA_OK) {
        st = eva_preprocess_image(&img, j->pp, j->images + per * (size_t)i, NULL);
        eva_image_free(&img);
    }
    j->ok[i] = st == EVA_OK;
    j->errors[i] = st == EVA_OK ? NULL : strdup(eva_last_error());
}

void cli_load_batch(char *const *paths, int n, const eva_preprocess_params *pp, const eva_image_options *io,
                    int threads, float *images, bool *ok, char **errors) {
    eva_pool *pool = NULL;
    eva_pool_create(threads, &pool);   /* on failure: NULL pool runs serially */
    load_job j = {paths, pp, io, images, ok, errors};
    eva_pool_run(pool, n, load_task, &j);
    eva_pool_free(pool);
}

void cli_pre_opts_init(cli_pre_opts *o) {
    memset(o, 0, sizeof *o);
    o->squash = -1;
}

static bool parse3(const char *s, float out[3]) {
    char *end;
    for (int k = 0; k < 3; k++) {
        out[k] = strtof(s, &end);
        if (end == s) return false;
        s = end;
        if (k < 2) {
            if (*s != ',') return false;
            s++;
        }
    }
    return *s == 0;
}

int cli_pre_opts_parse(const char *cmd, cli_pre_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--preprocess")) {
        if (!cli_take_str(cmd, argc, argv, i, &o->family)) return -1;
        if (strcmp(o->family, "official") && strcmp(o->family, "timm")) {
            cli_usage(cmd, "--preprocess must be 'official' or 'timm', got '%s'", o->family);
            return -1;
        }
    } else if (!strcmp(a, "--crop-pct")) {
        if (!cli_take_float(cmd, argc, argv, i, &o->crop_pct)) return -1;
        if (!(o->crop_pct > 0 && o->crop_pct <= 1)) { cli_usage(cmd, "--crop-pct must be in (0, 1]"); return -1; }
    } else if (!strcmp(a, "--resize")) {
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!strcmp(v, "shortest")) o->squash = 0;
        else if (!strcmp(v, "squash")) o->squash = 1;
        else { cli_usage(cmd, "--resize must be 'shortest' or 'squash', got '%s'", v); return -1; }
    } else if (!strcmp(a, "--mean") || !strcmp(a, "--std")) {
        bool mean = !strcmp(a, "--mean");
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (!parse3(v, mean ? o->mean : o->std)) { cli_usage(cmd, "%s expects three numbers a,b,c, got '%s'", a, v); return -1; }
        if (mean) o->has_mean = true;
        else o->has_std = true;
    } else if (!strcmp(a, "--exif-rotate")) {
        o->exif_rotate = true;
    } else {
        return 0;
    }
    return 1;
}

int cli_pre_resolve(const char *cmd, const cli_pre_opts *o, const eva_model *m, eva_preprocess_params *out) {
    eva_status st = eva_model_preprocess(m, o->family, out);
    if (st != EVA_OK) return cli_lib_error(cmd, st);
    if (o->crop_pct > 0) out->crop_pct = o->crop_pct;
    if (o->squash >= 0) out->squash = o->squash;
    if (o->has_mean) memcpy(out->mean, o->mean, sizeof out->mean);
    if (o->has_std) {
        for (int k = 0; k < 3; k++)
            if (o->std[k] == 0) return cli_usage(cmd, "--std values must be non-zero");
        memcpy(out->std, o->std, sizeof out->std);
    }
    out->exif_rotate = o->exif_rotate;
    return 0;
}
