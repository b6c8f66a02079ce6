/* tensor_map.c — named tensors + metadata read from a file, and the public eva_tensor_file API
 * (a thin wrapper: the handle is the map). */
#include "io/tensor_map.h"

#include <stdio.h>
#include <stdlib.h>

void eva_tensor_map_init(eva_tensor_map *m) { memset(m, 0, sizeof *m); }

void eva_tensor_map_free(eva_tensor_map *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) free(m->items[i].name);
    free(m->items);
    for (int i = 0; i < m->meta_count; i++) {
        free(m->meta_keys[i]);
        free(m->meta_values[i]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    for (int i = 0; i < m->owned_count; i++) eva_aligned_free(m->owned[i]);
    free(m->owned);
    eva_unmap_file(&m->file);
    memset(m, 0, sizeof *m);
}

static eva_status grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return EVA_OK;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return eva_fail(EVA_ERR_NOMEM, "out of memory growing a table");
    *arr = p;
    *cap = nc;
    return EVA_OK;
}

eva_status eva_tensor_map_add(eva_tensor_map *m, const char *name, const eva_tensor *t) {
    if (eva_tensor_map_find(m, name))
        return eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' appears twice", m->source, name);
    if (grow((void **)&m->items, &m->cap, m->count + 1, sizeof *m->items) != EVA_OK) return EVA_ERR_NOMEM;
    char *copy = eva_strdup(name);
    if (!copy) return EVA_ERR_NOMEM;
    eva_named_tensor *nt = &m->items[m->count++];
    nt->name = copy;
    nt->t = *t;
    nt->nbytes = (size_t)eva_tensor_numel(t) * eva_dtype_size(t->dtype);
    return EVA_OK;
}

eva_status eva_tensor_map_set_meta(eva_tensor_map *m, const char *key, const char *value) {
    for (int i = 0; i < m->meta_count; i++)
        if (strcmp(m->meta_keys[i], key) == 0) {
            char *v = eva_strdup(value);
            if (!v) return EVA_ERR_NOMEM;
            free(m->meta_values[i]);
            m->meta_values[i] = v;
            return EVA_OK;
        }
    int cap = m->meta_cap;
    if (grow((void **)&m->meta_keys, &cap, m->meta_count + 1, sizeof(char *)) != EVA_OK) return EVA_ERR_NOMEM;
    cap = m->meta_cap;
    if (grow((void **)&m->meta_values, &cap, m->meta_count + 1, sizeof(char *)) != EVA_OK) return EVA_ERR_NOMEM;
    m->meta_cap = cap;
    char *k = eva_strdup(key), *v = eva_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return EVA_ERR_NOMEM;
    }
    m->meta_keys[m->meta_count] = k;
    m->meta_values[m->meta_count] = v;
    m->meta_count++;
    return EVA_OK;
}

const char *eva_tensor_map_get_meta(const eva_tensor_map *m, const char *key) {
    for (int i = 0; i < m->meta_count; i++)
        if (strcmp(m->meta_keys[i], key) == 0) return m->meta_values[i];
    return NULL;
}

eva_status eva_tensor_map_own(eva_tensor_map *m, void *block) {
    if (grow((void **)&m->owned, &m->owned_cap, m->owned_count + 1, sizeof(void *)) != EVA_OK) {
        eva_aligned_free(block);
        return EVA_ERR_NOMEM;
    }
    m->owned[m->owned_count++] = block;
    return EVA_OK;
}

eva_named_tensor *eva_tensor_map_find(const eva_tensor_map *m, const char *name) {
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->items[i].name, name) == 0) return &m->items[i];
    return NULL;
}

void eva_tensor_map_remove(eva_tensor_map *m, const char *name) {
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->items[i].name, name) == 0) {
            free(m->items[i].name);
            memmove(&m->items[i], &m->items[i + 1], (size_t)(m->count - i - 1) * sizeof *m->items);
            m->count--;
            return;
        }
}

eva_status eva_tensor_map_rename(eva_tensor_map *m, const char *from, const char *to) {
    eva_named_tensor *nt = eva_tensor_map_find(m, from);
    if (!nt) return eva_fail(EVA_ERR_MISSING, "%s: no tensor '%s' to rename", m->source, from);
    if (eva_tensor_map_find(m, to)) return eva_fail(EVA_ERR_FORMAT, "%s: '%s' already exists", m->source, to);
    char *copy = eva_strdup(to);
    if (!copy) return EVA_ERR_NOMEM;
    free(nt->name);
    nt->name = copy;
    return EVA_OK;
}

eva_status eva_tensor_map_open(const char *path, eva_tensor_map *out) {
    eva_tensor_map_init(out);
    eva_mapped_file mf;
    eva_status st = eva_map_file(path, &mf);
    if (st != EVA_OK) return st;
    bool is_zip = mf.size >= 4 && memcmp(mf.data, "PK\3\4", 4) == 0;
    bool is_legacy_pickle = mf.size >= 2 && mf.data[0] == 0x80 && mf.data[1] <= 5;
    eva_unmap_file(&mf);
    if (is_zip || is_legacy_pickle) {
        eva_pt_info info;
        return eva_pt_read(path, out, &info);
    }
    return eva_safetensors_read(path, out);
}

/* ---------------------------------------------------------------- public wrapper */

struct eva_tensor_file {
    eva_tensor_map map;
};

eva_status eva_tensor_file_open(const char *path, eva_tensor_file **out) {
    *out = NULL;
    if (!path) return eva_fail(EVA_ERR_INVALID_ARG, "no path given");
    eva_tensor_file *f = eva_calloc(1, sizeof *f);
    if (!f) return EVA_ERR_NOMEM;
    eva_status st = eva_tensor_map_open(path, &f->map);
    if (st != EVA_OK) {
        eva_tensor_map_free(&f->map);
        free(f);
        return st;
    }
    *out = f;
    return EVA_OK;
}

void eva_tensor_file_close(eva_tensor_file *f) {
    if (!f) return;
    eva_tensor_map_free(&f->map);
    free(f);
}

int eva_tensor_file_count(const eva_tensor_file *f) { return f ? f->map.count : 0; }

static void fill_view(const eva_named_tensor *nt, eva_tensor_view *v) {
    v->name = nt->name;
    v->dtype = nt->t.dtype;
    v->ndim = nt->t.ndim;
    for (int i = 0; i < nt->t.ndim; i++) v->shape[i] = nt->t.shape[i];
    v->data = nt->t.data;
    v->nbytes = nt->nbytes;
}

eva_status eva_tensor_file_get(const eva_tensor_file *f, int index, eva_tensor_view *out) {
    if (!f || index < 0 || index >= f->map.count)
        return eva_fail(EVA_ERR_INVALID_ARG, "tensor index %d out of range", index);
    fill_view(&f->map.items[index], out);
    return EVA_OK;
}

eva_status eva_tensor_file_find(const eva_tensor_file *f, const char *name, eva_tensor_view *out) {
    const eva_named_tensor *nt = f ? eva_tensor_map_find(&f->map, name) : NULL;
    if (!nt) return eva_fail(EVA_ERR_MISSING, "%s: no tensor named '%s'", f ? f->map.source : "?", name);
    fill_view(nt, out);
    return EVA_OK;
}

const char *eva_tensor_file_metadata(const eva_tensor_file *f, const char *key) {
    return f ? eva_tensor_map_get_meta(&f->map, key) : NULL;
}

eva_status eva_tensor_convert_f32(const eva_tensor_view *v, float *dst) {
    if (!v || !dst) return eva_fail(EVA_ERR_INVALID_ARG, "null argument");
    size_t n = 1;
    for (int i = 0; i < v->ndim; i++) n *= (size_t)v->shape[i];
    return eva_convert_to_f32(v->dtype, v->data, dst, n);
}
