/* checkpoint.c — atomic training checkpoints with fallback to the previous one. */
#include "train/checkpoint.h"
#include "io/tensor_map.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void eva_meta_set(eva_ckpt_meta *m, const char *key, const char *fmt, ...) {
    int i = 0;
    while (i < m->n && strcmp(m->items[i].key, key) != 0) i++;
    if (i == m->n) {
        if (m->n == (int)EVA_ARRAY_LEN(m->items)) return;
        m->n++;
        snprintf(m->items[i].key, sizeof m->items[i].key, "%s", key);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->items[i].value, sizeof m->items[i].value, fmt, ap);
    va_end(ap);
}

const char *eva_meta_get(const eva_ckpt_meta *m, const char *key) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].key, key)) return m->items[i].value;
    return NULL;
}

int64_t eva_meta_get_i64(const eva_ckpt_meta *m, const char *key, int64_t fallback) {
    const char *v = eva_meta_get(m, key);
    return v ? strtoll(v, NULL, 10) : fallback;
}

double eva_meta_get_f64(const eva_ckpt_meta *m, const char *key, double fallback) {
    const char *v = eva_meta_get(m, key);
    return v ? strtod(v, NULL) : fallback;
}

/* ckpt-<step>.safetensors files of a run, newest first */
static int list_ckpts(const char *dir, int64_t *steps, int cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail[32];
        if (sscanf(e->d_name, "ckpt-%lld.%31s", &s, tail) == 2 && !strcmp(tail, "safetensors") && n < cap) steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++)   /* insertion sort, descending */
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

static void ckpt_path(char *out, size_t cap, const char *dir, int64_t step) {
    snprintf(out, cap, "%s/ckpt-%08lld.safetensors", dir, (long long)step);
}

static eva_status add_meta(eva_tensor_writer *w, const eva_ckpt_meta *meta) {
    for (int i = 0; meta && i < meta->n; i++) {
        eva_status st = eva_tensor_writer_set_metadata(w, meta->items[i].key, meta->items[i].value);
        if (st != EVA_OK) return st;
    }
    return EVA_OK;
}

eva_status eva_ckpt_save(const char *run_dir, int64_t step, const eva_param_ref *params, int n, eva_adamw *opt,
                         const eva_ckpt_meta *meta, int keep_last) {
    return eva_ckpt_save_extra(run_dir, step, params, n, opt, NULL, 0, meta, keep_last);
}

eva_status eva_ckpt_save_extra(const char *run_dir, int64_t step, const eva_param_ref *params, int n, eva_adamw *opt,
                               const eva_param_ref *extra, int n_extra, const eva_ckpt_meta *meta, int keep_last) {
    eva_tensor_writer *w;
    eva_status st = eva_tensor_writer_create(&w);
    if (st != EVA_OK) return st;
    char name[300], stepbuf[32];
    for (int i = 0; i < n_extra && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "extra.%s", extra[i].name);
        st = eva_tensor_writer_add_view(w, name, EVA_F32, 1, (int64_t[]){extra[i].numel}, extra[i].param);
    }
    for (int i = 0; i < n && st == EVA_OK; i++) {
        int64_t shape[1] = {params[i].numel};
        snprintf(name, sizeof name, "param.%s", params[i].name);
        st = eva_tensor_writer_add_view(w, name, EVA_F32, 1, shape, params[i].param);
        if (opt && st == EVA_OK) {
            float *m, *v;
            eva_adamw_state(opt, i, &m, &v);
            snprintf(name, sizeof name, "adam.m.%s", params[i].name);
            if (m) st = eva_tensor_writer_add_view(w, name, EVA_F32, 1, shape, m);
            snprintf(name, sizeof name, "adam.v.%s", params[i].name);
            if (v && st == EVA_OK) st = eva_tensor_writer_add_view(w, name, EVA_F32, 1, shape, v);
        }
    }
    if (st == EVA_OK) st = add_meta(w, meta);
    snprintf(stepbuf, sizeof stepbuf, "%lld", (long long)step);
    if (st == EVA_OK) st = eva_tensor_writer_set_metadata(w, "ckpt.step", stepbuf);
    if (opt && st == EVA_OK) {
        snprintf(stepbuf, sizeof stepbuf, "%lld", (long long)eva_adamw_steps(opt));
        st = eva_tensor_writer_set_metadata(w, "ckpt.adam_steps", stepbuf);
    }
    char path[4096];
    ckpt_path(path, sizeof path, run_dir, step);
    if (st == EVA_OK) st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    if (st != EVA_OK) return eva_fail_context(st, "writing checkpoint %s (older checkpoints are intact)", path);
    int64_t steps[4096];
    int k = list_ckpts(run_dir, steps, 4096);
    for (int i = keep_last < 1 ? 1 : keep_last; i < k; i++) {
        ckpt_path(path, sizeof path, run_dir, steps[i]);
        remove(path);
    }
    return EVA_OK;
}

static eva_status load_one(const char *path, const eva_param_ref *params, int n, eva_adamw *opt,
                           const eva_param_ref *extra, int n_extra, eva_ckpt_meta *meta) {
    eva_tensor_map map;
    eva_status st = eva_safetensors_read(path, &map);
    char name[300];
    for (int i = 0; i < n_extra && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "extra.%s", extra[i].name);
        eva_named_tensor *t = eva_tensor_map_find(&map, name);
        if (!t || t->t.dtype != EVA_F32 || eva_tensor_numel(&t->t) != extra[i].numel)
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong size", path, name);
    }
    /* check everything before touching the live parameters */
    for (int i = 0; i < n && st == EVA_OK; i++) {
        const char *kinds[3] = {"param", "adam.m", "adam.v"};
        for (int k = 0; k < (opt ? 3 : 1) && st == EVA_OK; k++) {
            snprintf(name, sizeof name, "%s.%s", kinds[k], params[i].name);
            eva_named_tensor *t = eva_tensor_map_find(&map, name);
            if (!t || t->t.dtype != EVA_F32 || eva_tensor_numel(&t->t) != params[i].numel)
                st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' missing or of the wrong size", path, name);
        }
    }
    for (int i = 0; i < n && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "param.%s", params[i].name);
        memcpy(params[i].param, eva_tensor_map_find(&map, name)->t.data, sizeof(float) * (size_t)params[i].numel);
        if (opt) {
            float *m, *v;
            eva_adamw_state(opt, i, &m, &v);
            snprintf(name, sizeof name, "adam.m.%s", params[i].name);
            if (m) memcpy(m, eva_tensor_map_find(&map, name)->t.data, sizeof(float) * (size_t)params[i].numel);
            snprintf(name, sizeof name, "adam.v.%s", params[i].name);
            if (v) memcpy(v, eva_tensor_map_find(&map, name)->t.data, sizeof(float) * (size_t)params[i].numel);
        }
    }
    for (int i = 0; i < n_extra && st == EVA_OK; i++) {
        snprintf(name, sizeof name, "extra.%s", extra[i].name);
        memcpy(extra[i].param, eva_tensor_map_find(&map, name)->t.data, sizeof(float) * (size_t)extra[i].numel);
    }
    if (st == EVA_OK) {
        meta->n = 0;
        for (int i = 0; i < map.meta_count; i++) eva_meta_set(meta, map.meta_keys[i], "%s", map.meta_values[i]);
        if (opt) eva_adamw_set_steps(opt, eva_meta_get_i64(meta, "ckpt.adam_steps", 0));
    }
    eva_tensor_map_free(&map);
    return st;
}

eva_status eva_ckpt_load_latest(const char *run_dir, const eva_param_ref *params, int n, eva_adamw *opt,
                                eva_ckpt_meta *meta, char *path_out, size_t cap, int *skipped) {
    return eva_ckpt_load_latest_extra(run_dir, params, n, opt, NULL, 0, meta, path_out, cap, skipped);
}

eva_status eva_ckpt_load_latest_extra(const char *run_dir, const eva_param_ref *params, int n, eva_adamw *opt,
                                      const eva_param_ref *extra, int n_extra, eva_ckpt_meta *meta, char *path_out,
                                      size_t cap, int *skipped) {
    int64_t steps[4096];
    int k = list_ckpts(run_dir, steps, 4096);
    *skipped = 0;
    if (k == 0) return eva_fail(EVA_ERR_MISSING, "%s: no checkpoint (ckpt-*.safetensors) to resume from", run_dir);
    char path[4096];
    for (int i = 0; i < k; i++) {
        ckpt_path(path, sizeof path, run_dir, steps[i]);
        if (load_one(path, params, n, opt, extra, n_extra, meta) == EVA_OK) {
            snprintf(path_out, cap, "%s", path);
            return EVA_OK;
        }
        eva_log(EVA_LOG_WARN, "checkpoint %s is damaged (%s); falling back to the previous one", path, eva_last_error());
        (*skipped)++;
    }
    return eva_fail(EVA_ERR_FORMAT, "%s: all %d checkpoints are damaged", run_dir, k);
}

eva_status eva_save_params(const char *path, const eva_param_ref *params, const int64_t (*shapes)[4], int n,
                           const eva_ckpt_meta *meta) {
    eva_tensor_writer *w;
    eva_status st = eva_tensor_writer_create(&w);
    for (int i = 0; i < n && st == EVA_OK; i++)
        st = eva_tensor_writer_add_view(w, params[i].name, EVA_F32, params[i].ndim, shapes[i], params[i].param);
    if (st == EVA_OK) st = add_meta(w, meta);
    if (st == EVA_OK) st = eva_tensor_writer_save(w, path);
    eva_tensor_writer_free(w);
    return st;
}

/* ---------------------------------------------------------------- metrics (JSON lines) */

eva_status eva_metrics_append(const char *dir, const char *line) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "a");
    if (!f) return eva_fail(EVA_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    bool ok = fputs(line, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    return ok ? EVA_OK : eva_fail(EVA_ERR_IO, "%s: write failed: %s", path, strerror(errno));
}

/* metrics.jsonl may hold lines past the checkpoint we resume from: cut them */
void eva_metrics_truncate(const char *dir, int64_t last_step) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen(path, "r");
    if (!in) return;
    FILE *out = fopen(tmp, "w");
    if (!out) { fclose(in); return; }
    char line[2048];
    while (fgets(line, sizeof line, in)) {
        long long s;
        if (sscanf(line, "{\"step\": %lld", &s) == 1 && s > last_step) continue;
        fputs(line, out);
    }
    fclose(in);
    if (fclose(out) == 0) rename(tmp, path);
}

