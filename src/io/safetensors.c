/* safetensors.c — read (zero-copy over mmap) and write (temp file + rename) the safetensors
 * format: u64 little-endian header length n, n bytes of JSON, then raw tensor bytes.
 *
 * The header is untrusted: every entry is checked (dtype known, shape sane, offsets inside the
 * data area, size == numel * dtype size, no two tensors overlapping) before any tensor is used. */
#include "io/tensor_map.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_HEADER_BYTES ((uint64_t)256 << 20)   /* 256 MiB of JSON is already absurd */
#define MAX_EXACT_INT 9007199254740992.0          /* 2^53: JSON numbers parsed as double */

static bool json_to_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT_INT || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

typedef struct span { uint64_t begin, end; const char *name; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

eva_status eva_safetensors_parse(const uint8_t *data, size_t size, const char *what, eva_tensor_map *out) {
    snprintf(out->source, sizeof out->source, "%s", what);
    snprintf(out->format, sizeof out->format, "safetensors");
    if (size < 8) return eva_fail(EVA_ERR_FORMAT, "%s: not a safetensors file (only %zu bytes)", what, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n < 2 || n > MAX_HEADER_BYTES || n > size - 8)
        return eva_fail(EVA_ERR_FORMAT, "%s: not a safetensors file or truncated (header length %llu, file %zu bytes)",
                        what, (unsigned long long)n, size);
    const uint8_t *data_area = data + 8 + n;
    uint64_t data_size = size - 8 - n;
    cJSON *root = cJSON_ParseWithLength((const char *)data + 8, (size_t)n);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return eva_fail(EVA_ERR_FORMAT, "%s: safetensors header is not a JSON object", what);
    }
    eva_status st = EVA_OK;
    int n_entries = cJSON_GetArraySize(root);
    span *spans = eva_calloc((size_t)(n_entries > 0 ? n_entries : 1), sizeof *spans);
    int n_spans = 0;
    if (!spans) {
        cJSON_Delete(root);
        return EVA_ERR_NOMEM;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        const char *name = e->string ? e->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                st = eva_fail(EVA_ERR_FORMAT, "%s: __metadata__ is not an object", what);
                break;
            }
            const cJSON *kv;
            cJSON_ArrayForEach(kv, e) {
                if (!cJSON_IsString(kv)) {
                    st = eva_fail(EVA_ERR_FORMAT, "%s: __metadata__ value '%s' is not a string", what, kv->string);
                    break;
                }
                if ((st = eva_tensor_map_set_meta(out, kv->string, kv->valuestring)) != EVA_OK) break;
            }
            if (st != EVA_OK) break;
            continue;
        }
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) ||
            cJSON_GetArraySize(jo) != 2) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' needs dtype, shape and data_offsets", what, name);
            break;
        }
        eva_tensor t = {0};
        if (eva_dtype_from_name(jd->valuestring, &t.dtype) != EVA_OK) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype '%s'", what, name, jd->valuestring);
            break;
        }
        int ndim = cJSON_GetArraySize(js);
        if (ndim > EVA_MAX_DIMS) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (max %d)", what, name, ndim, EVA_MAX_DIMS);
            break;
        }
        t.ndim = ndim;
        uint64_t numel = 1;
        bool ok = true;
        for (int i = 0; i < ndim && ok; i++) {
            uint64_t d = 0;
            ok = json_to_u64(cJSON_GetArrayItem(js, i), &d) && !__builtin_mul_overflow(numel, d, &numel) &&
                 d <= (uint64_t)INT64_MAX;
            t.shape[i] = (int64_t)d;
        }
        uint64_t begin, end, nbytes;
        if (!ok || __builtin_mul_overflow(numel, (uint64_t)eva_dtype_size(t.dtype), &nbytes)) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' has an invalid or absurd shape", what, name);
            break;
        }
        if (!json_to_u64(cJSON_GetArrayItem(jo, 0), &begin) || !json_to_u64(cJSON_GetArrayItem(jo, 1), &end) ||
            begin > end) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' has invalid data_offsets", what, name);
            break;
        }
        if (end > data_size) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' ends at byte %llu past the end of the data (%llu bytes): truncated file?",
                          what, name, (unsigned long long)end, (unsigned long long)data_size);
            break;
        }
        if (end - begin != nbytes) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' is %llu bytes but %s %s needs %llu", what, name,
                          (unsigned long long)(end - begin), jd->valuestring,
                          eva_shape_str(ndim, t.shape, (char[128]){0}, 128), (unsigned long long)nbytes);
            break;
        }
        eva_tensor_set_contiguous_strides(&t);
        t.data = (void *)(data_area + begin);
        size_t align = eva_dtype_size(t.dtype);
        if (nbytes && align > 1 && ((uintptr_t)t.data % align) != 0) {
            /* foreign writers may leave tensors unaligned: copy so typed loads stay defined */
            void *copy = eva_aligned_alloc((size_t)nbytes);
            if (!copy) { st = EVA_ERR_NOMEM; break; }
            memcpy(copy, t.data, (size_t)nbytes);
            if ((st = eva_tensor_map_own(out, copy)) != EVA_OK) break;
            t.data = copy;
        }
        spans[n_spans++] = (span){begin, end, name};
        if ((st = eva_tensor_map_add(out, name, &t)) != EVA_OK) break;
    }
    if (st == EVA_OK) {
        qsort(spans, (size_t)n_spans, sizeof *spans, span_cmp);
        uint64_t max_end = 0;
        const char *max_name = NULL;
        for (int i = 0; i < n_spans; i++) {
            if (spans[i].end == spans[i].begin) continue;   /* empty tensors overlap nothing */
            if (max_name && spans[i].begin < max_end) {
                st = eva_fail(EVA_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", what, max_name, spans[i].name);
                break;
            }
            max_end = spans[i].end;
            max_name = spans[i].name;
        }
    }
    free(spans);
    cJSON_Delete(root);
    return st;
}

eva_status eva_safetensors_read(const char *path, eva_tensor_map *out) {
    eva_tensor_map_init(out);
    eva_status st = eva_map_file(path, &out->file);
    if (st != EVA_OK) return st;
    st = eva_safetensors_parse(out->file.data, out->file.size, path, out);
    return st;
}

/* ---------------------------------------------------------------- writer */

typedef struct writer_entry {
    char *name;
    eva_dtype dtype;
    int ndim;
    int64_t shape[EVA_MAX_DIMS];
    const void *data;
    void *owned;
    size_t nbytes;
} writer_entry;

struct eva_tensor_writer {
    writer_entry *items;
    int count, cap;
    cJSON *meta;
};

eva_status eva_tensor_writer_create(eva_tensor_writer **out) {
    *out = eva_calloc(1, sizeof **out);
    if (!*out) return EVA_ERR_NOMEM;
    (*out)->meta = cJSON_CreateObject();
    if (!(*out)->meta) {
        free(*out);
        *out = NULL;
        return eva_fail(EVA_ERR_NOMEM, "out of memory");
    }
    return EVA_OK;
}

void eva_tensor_writer_free(eva_tensor_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) {
        free(w->items[i].name);
        eva_aligned_free(w->items[i].owned);
    }
    free(w->items);
    cJSON_Delete(w->meta);
    free(w);
}

static eva_status writer_add(eva_tensor_writer *w, const char *name, eva_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, bool copy) {
    if (!w || !name || !*name || (ndim > 0 && !shape) || ndim < 0 || ndim > EVA_MAX_DIMS ||
        (unsigned)dtype >= EVA_DTYPE_COUNT || dtype == EVA_Q8)
        return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: bad arguments for '%s'", name ? name : "(null)");
    if (strcmp(name, "__metadata__") == 0) return eva_fail(EVA_ERR_INVALID_ARG, "tensor name '__metadata__' is reserved");
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->items[i].name, name) == 0)
            return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: '%s' added twice", name);
    size_t numel = 1, nbytes;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !eva_size_mul(numel, (size_t)shape[i], &numel))
            return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: bad shape for '%s'", name);
    }
    if (!eva_size_mul(numel, eva_dtype_size(dtype), &nbytes))
        return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: '%s' is too large", name);
    if (nbytes && !data) return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: no data for '%s'", name);
    if (w->count == w->cap) {
        int nc = w->cap ? w->cap * 2 : 16;
        void *p = realloc(w->items, (size_t)nc * sizeof *w->items);
        if (!p) return eva_fail(EVA_ERR_NOMEM, "out of memory");
        w->items = p;
        w->cap = nc;
    }
    writer_entry e = {0};
    e.name = eva_strdup(name);
    if (!e.name) return EVA_ERR_NOMEM;
    e.dtype = dtype;
    e.ndim = ndim;
    for (int i = 0; i < ndim; i++) e.shape[i] = shape[i];
    e.nbytes = nbytes;
    if (copy && nbytes) {
        e.owned = eva_aligned_alloc(nbytes);
        if (!e.owned) {
            free(e.name);
            return EVA_ERR_NOMEM;
        }
        memcpy(e.owned, data, nbytes);
        e.data = e.owned;
    } else {
        e.data = data;
    }
    w->items[w->count++] = e;
    return EVA_OK;
}

eva_status eva_tensor_writer_add(eva_tensor_writer *w, const char *name, eva_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data) {
    return writer_add(w, name, dtype, ndim, shape, data, true);
}

eva_status eva_tensor_writer_add_view(eva_tensor_writer *w, const char *name, eva_dtype dtype, int ndim,
                                      const int64_t *shape, const void *data) {
    return writer_add(w, name, dtype, ndim, shape, data, false);
}

eva_status eva_tensor_writer_set_metadata(eva_tensor_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: bad metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
    if (!cJSON_AddStringToObject(w->meta, key, value)) return eva_fail(EVA_ERR_NOMEM, "out of memory");
    return EVA_OK;
}

eva_status eva_tensor_writer_save(eva_tensor_writer *w, const char *path) {
    if (!w || !path) return eva_fail(EVA_ERR_INVALID_ARG, "tensor writer: no path");
    /* Data order: widest dtypes first so every tensor stays naturally aligned; within a width,
     * tensors of a whole number of 64-byte lines first, and the header padded so the data starts
     * on a 64-byte boundary of the file: with the usual widths every such tensor then starts on
     * a cache line of the mmap, so weight panels can be used in place with aligned vector loads.
     * JSON keeps insertion order. */
    int *order = eva_calloc((size_t)(w->count + 1), sizeof(int));
    if (!order) return EVA_ERR_NOMEM;
    int k = 0;
    for (size_t sz = 8; sz >= 1; sz /= 2)
        for (int whole = 1; whole >= 0; whole--)
            for (int i = 0; i < w->count; i++)
                if (eva_dtype_size(w->items[i].dtype) == sz && (w->items[i].nbytes % 64 == 0) == (whole == 1))
                    order[k++] = i;
    uint64_t *offsets = eva_calloc((size_t)(w->count + 1), sizeof(uint64_t));
    if (!offsets) {
        free(order);
        return EVA_ERR_NOMEM;
    }
    uint64_t pos = 0;
    for (int j = 0; j < k; j++) {
        offsets[order[j]] = pos;
        pos += w->items[order[j]].nbytes;
    }
    cJSON *root = cJSON_CreateObject();
    eva_status st = EVA_OK;
    if (cJSON_GetArraySize(w->meta) > 0) cJSON_AddItemReferenceToObject(root, "__metadata__", w->meta);
    for (int i = 0; i < w->count && root; i++) {
        writer_entry *e = &w->items[i];
        cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "dtype", eva_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offsets[i]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offsets[i] + e->nbytes)));
        cJSON_AddItemToObject(o, "data_offsets", offs);
        cJSON_AddItemToObject(root, e->name, o);
    }
    char *json = root ? cJSON_PrintUnformatted(root) : NULL;
    if (!json) st = eva_fail(EVA_ERR_NOMEM, "out of memory building the safetensors header");
    eva_atomic_file af;
    if (st == EVA_OK) st = eva_atomic_open(&af, path);
    if (st == EVA_OK) {
        size_t jlen = strlen(json);
        size_t padded = ((8 + jlen + 63) & ~(size_t)63) - 8;   /* 8 + padded: a multiple of 64 */
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        st = eva_atomic_write(&af, len8, 8);
        if (st == EVA_OK) st = eva_atomic_write(&af, json, jlen);
        for (size_t i = jlen; i < padded && st == EVA_OK; i++) st = eva_atomic_write(&af, " ", 1);
        for (int j = 0; j < k && st == EVA_OK; j++)
            st = eva_atomic_write(&af, w->items[order[j]].data, w->items[order[j]].nbytes);
        if (st == EVA_OK) st = eva_atomic_commit(&af);
        else eva_atomic_abort(&af);
    }
    free(json);
    cJSON_Delete(root);
    free(order);
    free(offsets);
    return st;
}
