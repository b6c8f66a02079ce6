/* pt_reader.c — PyTorch .pt (torch.save zip) -> eva_tensor_map.
 *
 * Steps: open the zip (pt_zip.c), find "<stem>/data.pkl" for any stem, unpickle it with the
 * restricted unpickler (pt_pickle.c), then walk the value tree: every tensor reachable through
 * dicts (and lists/tuples) is added under its dotted path from the top level
 * ("model.blocks.0.norm1.weight", "module.cls_token", or just "cls_token" for a bare state dict).
 * Storages are the entries "<stem>/data/<key>"; each is read once (stored entries in place,
 * deflated ones inflated into a block the map owns) however many tensors share it.
 * Contiguous tensors are zero-copy views; strided views (and misaligned data) are gathered into
 * owned contiguous blocks. Top-level scalars become metadata "pt.<key>". */
#include "io/pt_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define PT_MAX_PATH 4096
#define PT_ZERO_STORAGE_BYTES ((size_t)1 << 16)   /* pickle-only mode: fake storage size cap (each) */

typedef struct pt_reader {
    const char *what;
    eva_tensor_map *map;
    const eva_zip *zip;          /* NULL: pickle-only mode (storages read as zeros) */
    char data_prefix[PT_MAX_PATH];
    const uint8_t **cache;       /* per zip entry: bytes once read */
    size_t *cache_len;
    size_t zeros_left;           /* pickle-only mode: zero bytes still allowed */
    size_t visits, max_visits;   /* a tree visits each object once; shared containers more */
    size_t gather_budget;        /* bytes that strided views may still copy (stride-0 bombs) */
    char path[PT_MAX_PATH];
} pt_reader;

/* Bytes of a storage, validated to hold numel elements. */
static eva_status storage_bytes(pt_reader *r, const eva_pv *s, const uint8_t **bytes, size_t *len) {
    size_t esize = eva_dtype_size((eva_dtype)s->dtype), need;
    if (!eva_size_mul((size_t)s->i, esize, &need))
        return eva_fail(EVA_ERR_FORMAT, "%s: storage '%s' size overflows", r->what, s->s);
    if (!r->zip) {
        /* One exact-size zero block per storage reference, so sanitizers see any over-read. */
        if (need > PT_ZERO_STORAGE_BYTES || need > r->zeros_left)
            return eva_fail(EVA_ERR_FORMAT, "%s: storage '%s' too large for a bare pickle", r->what, s->s);
        r->zeros_left -= need;
        uint8_t *z = eva_aligned_alloc(need ? need : 1);
        if (!z) return EVA_ERR_NOMEM;
        memset(z, 0, need ? need : 1);
        eva_status st = eva_tensor_map_own(r->map, z);
        if (st) return st;
        *bytes = z;
        *len = need;
        return EVA_OK;
    }
    char name[PT_MAX_PATH];
    if ((size_t)snprintf(name, sizeof name, "%s%s", r->data_prefix, s->s) >= sizeof name)
        return eva_fail(EVA_ERR_FORMAT, "%s: storage key too long", r->what);
    int idx = eva_zip_find(r->zip, name);
    if (idx < 0) return eva_fail(EVA_ERR_FORMAT, "%s: storage '%s' is referenced but the archive has no entry '%s'", r->what, s->s, name);
    if (!r->cache[idx]) {
        void *owned;
        eva_status st = eva_zip_read(r->zip, idx, &r->cache[idx], &r->cache_len[idx], &owned);
        if (st) return eva_fail_context(st, "%s", r->what);
        if (owned) r->gather_budget += r->cache_len[idx];
        if (owned && (st = eva_tensor_map_own(r->map, owned))) {
            r->cache[idx] = NULL;
            return st;
        }
        if (!r->cache[idx]) r->cache[idx] = (const uint8_t *)"";   /* empty stored entry */
        if (!owned && r->cache_len[idx] && ((uintptr_t)r->cache[idx] % 8) != 0) {
            /* torch.save aligns stored entries to 64 bytes; other zip writers may not. Copy a
             * misaligned storage once (not per tensor) so its views keep sharing it. */
            uint8_t *copy = eva_aligned_alloc(r->cache_len[idx]);
            if (!copy) return EVA_ERR_NOMEM;
            memcpy(copy, r->cache[idx], r->cache_len[idx]);
            if ((st = eva_tensor_map_own(r->map, copy))) return st;
            r->cache[idx] = copy;
        }
    }
    if (r->cache_len[idx] < need)
        return eva_fail(EVA_ERR_FORMAT, "%s: storage '%s' declares %" PRId64 " elements (%zu bytes) but its entry has %zu bytes", r->what,
                        s->s, s->i, need, r->cache_len[idx]);
    *bytes = r->cache[idx];
    *len = need;
    return EVA_OK;
}

/* Add tensor value `tv` as r->path. */
static eva_status emit_tensor(pt_reader *r, const eva_pv *v) {
    const eva_pv_tensor *tv = v->tensor;
    const eva_pv *s = tv->storage;
    const uint8_t *base;
    size_t blen;
    eva_status st = storage_bytes(r, s, &base, &blen);
    if (st) return st;
    eva_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (eva_dtype)s->dtype;
    t.ndim = tv->ndim;
    for (int k = 0; k < tv->ndim; k++) t.shape[k] = tv->shape[k];
    eva_tensor_set_contiguous_strides(&t);
    size_t esize = eva_dtype_size(t.dtype);
    int64_t numel = eva_tensor_numel(&t);
    /* The unpickler checked offset + extent < storage numel (elements), so these byte offsets
     * are inside [0, blen). */
    if (numel == 0) {
        t.data = (void *)base;
    } else {
        bool contiguous = true;
        for (int k = 0; k < t.ndim; k++)
            if (t.shape[k] != 1 && t.stride[k] != tv->stride[k]) contiguous = false;
        const uint8_t *first = base + (size_t)tv->offset * esize;
        if (contiguous && ((uintptr_t)first % esize) == 0) {
            t.data = (void *)first;
        } else {
            /* Gather (or realign) into a contiguous owned block. A view may be larger than its
             * storage only through stride-0 broadcasting: bound that. */
            size_t out_bytes;
            if (!eva_size_mul((size_t)numel, esize, &out_bytes) || out_bytes > blen + ((size_t)64 << 20) ||
                out_bytes > r->gather_budget)
                return eva_fail(EVA_ERR_FORMAT, "%s: tensor '%s' is a view much larger than its storage (or views copy far "
                                "more than the file holds)", r->what, r->path);
            r->gather_budget -= out_bytes;
            uint8_t *dst = eva_aligned_alloc(out_bytes);
            if (!dst) return EVA_ERR_NOMEM;
            int64_t idx[EVA_MAX_DIMS] = {0};
            for (int64_t e = 0; e < numel; e++) {
                int64_t off = tv->offset;
                for (int k = 0; k < t.ndim; k++) off += idx[k] * tv->stride[k];
                memcpy(dst + (size_t)e * esize, base + (size_t)off * esize, esize);
                for (int k = t.ndim - 1; k >= 0; k--) {
                    if (++idx[k] < t.shape[k]) break;
                    idx[k] = 0;
                }
            }
            if ((st = eva_tensor_map_own(r->map, dst))) return st;
            t.data = dst;
        }
    }
    if (eva_tensor_map_find(r->map, r->path)) eva_tensor_map_remove(r->map, r->path);   /* later wins, as in Python */
    return eva_tensor_map_add(r->map, r->path, &t);
}

/* Key of a dict entry as a path component; false for keys that are not names (tuples, ...). */
static bool key_text(const eva_pv *k, char *buf, size_t cap) {
    if (k->kind == EVA_PV_STR) {
        snprintf(buf, cap, "%s", k->s);
        return strlen(k->s) < cap;
    }
    if (k->kind == EVA_PV_INT && !k->big) {
        snprintf(buf, cap, "%" PRId64, k->i);
        return true;
    }
    return false;
}

static eva_status walk(pt_reader *r, const eva_pv *v, size_t plen, int depth);

static eva_status walk_child(pt_reader *r, const eva_pv *v, size_t plen, const char *comp, int depth) {
    size_t clen = strlen(comp), nlen = plen + (plen ? 1 : 0) + clen;
    if (nlen >= PT_MAX_PATH) return eva_fail(EVA_ERR_FORMAT, "%s: tensor name longer than %d bytes", r->what, PT_MAX_PATH);
    if (plen) r->path[plen] = '.';
    memcpy(r->path + nlen - clen, comp, clen);
    r->path[nlen] = 0;
    eva_status st = walk(r, v, nlen, depth);
    r->path[plen] = 0;
    return st;
}

static eva_status walk(pt_reader *r, const eva_pv *v, size_t plen, int depth) {
    if (++r->visits > r->max_visits) return eva_fail(EVA_ERR_FORMAT, "%s: object graph too large (shared containers?)", r->what);
    if (v->kind == EVA_PV_TENSOR) return emit_tensor(r, v);
    if (v->kind != EVA_PV_DICT && v->kind != EVA_PV_LIST && v->kind != EVA_PV_TUPLE) return EVA_OK;   /* scalars etc. */
    if (depth >= EVA_PICKLE_MAX_DEPTH)
        return eva_fail(EVA_ERR_FORMAT, "%s: containers nested deeper than %d (or a cycle)", r->what, EVA_PICKLE_MAX_DEPTH);
    char comp[256];
    if (v->kind == EVA_PV_DICT) {
        for (size_t i = 0; i + 1 < v->n; i += 2) {
            const eva_pv *val = v->items[i + 1];
            if (val->kind != EVA_PV_TENSOR && val->kind != EVA_PV_DICT && val->kind != EVA_PV_LIST && val->kind != EVA_PV_TUPLE) continue;
            if (!key_text(v->items[i], comp, sizeof comp)) continue;
            eva_status st = walk_child(r, val, plen, comp, depth + 1);
            if (st) return st;
        }
    } else {
        for (size_t i = 0; i < v->n; i++) {
            const eva_pv *val = v->items[i];
            if (val->kind != EVA_PV_TENSOR && val->kind != EVA_PV_DICT && val->kind != EVA_PV_LIST && val->kind != EVA_PV_TUPLE) continue;
            snprintf(comp, sizeof comp, "%zu", i);
            eva_status st = walk_child(r, val, plen, comp, depth + 1);
            if (st) return st;
        }
    }
    return EVA_OK;
}

static const char *kind_name(const eva_pv *v) {
    switch (v->kind) {
    case EVA_PV_NONE: return "None";
    case EVA_PV_BOOL: return "bool";
    case EVA_PV_INT: return "int";
    case EVA_PV_FLOAT: return "float";
    case EVA_PV_STR: return "str";
    case EVA_PV_BYTES: return "bytes";
    case EVA_PV_TUPLE: return "tuple";
    case EVA_PV_LIST: return "list";
    case EVA_PV_DICT: return "dict";
    case EVA_PV_SET: return "set";
    case EVA_PV_TENSOR: return "tensor";
    case EVA_PV_STORAGE: return "storage";
    case EVA_PV_GLOBAL: return "global";
    case EVA_PV_OBJECT: return "object";
    }
    return "?";
}

static int direct_tensors(const eva_pv *d) {
    int n = 0;
    if (d->kind != EVA_PV_DICT) return 0;
    for (size_t i = 1; i < d->n; i += 2) n += d->items[i]->kind == EVA_PV_TENSOR;
    return n;
}

/* info + "pt.<key>" metadata for top-level scalars. */
static eva_status describe_top(pt_reader *r, const eva_pv *root, eva_pt_info *info) {
    eva_pt_info tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    if (root->kind != EVA_PV_DICT) return EVA_OK;
    info->bare = direct_tensors(root) > 0;
    char key[256], mkey[300], val[320];
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const eva_pv *k = root->items[i], *v = root->items[i + 1];
        if (!key_text(k, key, sizeof key)) continue;
        if (info->n_entries < (int)EVA_ARRAY_LEN(info->entries)) {
            eva_pt_entry *e = &info->entries[info->n_entries++];
            snprintf(e->key, sizeof e->key, "%.127s", key);
            e->n_tensors = v->kind == EVA_PV_TENSOR ? 1 : direct_tensors(v);
            snprintf(e->kind, sizeof e->kind, "%s", v->kind == EVA_PV_DICT && e->n_tensors > 0 ? "state_dict" : kind_name(v));
        }
        val[0] = 0;
        switch (v->kind) {
        case EVA_PV_INT: if (!v->big) snprintf(val, sizeof val, "%" PRId64, v->i); break;
        case EVA_PV_BOOL: snprintf(val, sizeof val, "%s", v->i ? "True" : "False"); break;
        case EVA_PV_FLOAT: snprintf(val, sizeof val, "%.17g", v->f); break;
        case EVA_PV_STR: snprintf(val, sizeof val, "%.256s", v->s); break;
        case EVA_PV_NONE: snprintf(val, sizeof val, "None"); break;
        default: break;
        }
        if (val[0]) {
            snprintf(mkey, sizeof mkey, "pt.%s", key);
            eva_status st = eva_tensor_map_set_meta(r->map, mkey, val);
            if (st) return st;
        }
    }
    return EVA_OK;
}

static eva_status read_tree(pt_reader *r, const uint8_t *pkl, size_t pkl_len, eva_pt_info *info) {
    eva_pickle *pk;
    eva_pv *root;
    eva_status st = eva_pickle_load(pkl, pkl_len, r->what, &pk, &root);
    if (st) return st;
    r->max_visits = 4 * eva_pickle_object_count(pk) + 65536;
    r->path[0] = 0;
    if (root->kind == EVA_PV_TENSOR) {
        snprintf(r->path, sizeof r->path, "tensor");   /* torch.save(tensor) */
        st = emit_tensor(r, root);
    } else {
        st = walk(r, root, 0, 0);
    }
    if (!st) st = describe_top(r, root, info);
    eva_pickle_free(pk);
    return st;
}

static void init_map(eva_tensor_map *out, const char *what) {
    eva_tensor_map_init(out);
    snprintf(out->format, sizeof out->format, "pt");
    snprintf(out->source, sizeof out->source, "%s", what);
}

static bool is_legacy(const uint8_t *d, size_t n) {
    /* Pre-1.6 torch.save: pickle PROTO 2, then LONG1 of the 10-byte magic 0x1950a86a20f9469cfc6c. */
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    return n >= sizeof magic && memcmp(d, magic, sizeof magic) == 0;
}

eva_status eva_pt_parse(const uint8_t *data, size_t size, const char *what, eva_tensor_map *out, eva_pt_info *info) {
    init_map(out, what);
    if (info) memset(info, 0, sizeof *info);
    if (is_legacy(data, size))
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: legacy (pre-1.6) torch.save format: re-save it with torch>=1.6 "
                        "(torch.save(torch.load(f), f2) writes the zip format by default) or convert it to safetensors", what);
    if (size >= 2 && data[0] == 0x80 && data[1] <= 5)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: a plain pickle file, not a torch.save zip archive (unsupported: eva.c does not "
                        "unpickle arbitrary files)", what);
    if (size < 4 || memcmp(data, "PK\3\4", 4) != 0)
        return eva_fail(EVA_ERR_FORMAT, "%s: not a PyTorch checkpoint (expected a torch.save zip archive)", what);
    eva_zip z;
    eva_status st = eva_zip_open(data, size, what, &z);
    if (st) return st;
    pt_reader *r = eva_calloc(1, sizeof *r);
    if (!r) { eva_zip_free(&z); return EVA_ERR_NOMEM; }
    r->what = what;
    r->map = out;
    r->zip = &z;
    r->gather_budget = 2 * size + ((size_t)64 << 20);
    /* The record is "<stem>/data.pkl" for any stem; pick the shortest such name (a nested copy
     * of another archive inside would have a longer one). */
    int pkl = -1;
    size_t best = SIZE_MAX;
    for (int i = 0; i < z.count; i++) {
        const char *nm = z.entries[i].name;
        size_t l = strlen(nm);
        bool match = (l == 8 && strcmp(nm, "data.pkl") == 0) || (l > 9 && strcmp(nm + l - 9, "/data.pkl") == 0);
        if (match && l < best) { best = l; pkl = i; }
    }
    if (pkl < 0) {
        st = eva_fail(EVA_ERR_FORMAT, "%s: zip archive without a '<name>/data.pkl' record: not a torch.save file", what);
        goto done;
    }
    snprintf(r->data_prefix, sizeof r->data_prefix, "%.*sdata/", (int)(best - 8), z.entries[pkl].name);
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", best > 9 ? (int)EVA_MIN(best - 9, (size_t)255) : 0, z.entries[pkl].name);
    r->cache = eva_calloc((size_t)z.count, sizeof *r->cache);
    r->cache_len = eva_calloc((size_t)z.count, sizeof *r->cache_len);
    if (!r->cache || !r->cache_len) { st = EVA_ERR_NOMEM; goto done; }
    const uint8_t *pb;
    size_t plen;
    void *powned;
    if ((st = eva_zip_read(&z, pkl, &pb, &plen, &powned))) {
        st = eva_fail_context(st, "%s", what);
        goto done;
    }
    st = read_tree(r, pb, plen, info);
    eva_aligned_free(powned);
    if (!st) st = eva_tensor_map_set_meta(out, "format", "pt");
    if (!st) st = eva_tensor_map_set_meta(out, "pt.stem", stem);
done:
    free(r->cache);
    free(r->cache_len);
    free(r);
    eva_zip_free(&z);
    if (st) {
        eva_tensor_map_free(out);
        init_map(out, what);
    }
    return st;
}

eva_status eva_pt_read(const char *path, eva_tensor_map *out, eva_pt_info *info) {
    eva_mapped_file mf;
    init_map(out, path);
    eva_status st = eva_map_file(path, &mf);
    if (st) return st;
    st = eva_pt_parse(mf.data, mf.size, path, out, info);
    if (st) {
        eva_unmap_file(&mf);
        return st;
    }
    out->file = mf;   /* the map's views point into this mapping */
    return EVA_OK;
}

eva_status eva_pt_parse_pickle(const uint8_t *pkl, size_t size, const char *what, eva_tensor_map *out, eva_pt_info *info) {
    init_map(out, what);
    pt_reader *r = eva_calloc(1, sizeof *r);
    if (!r) return EVA_ERR_NOMEM;
    r->what = what;
    r->map = out;
    r->zeros_left = 16 * PT_ZERO_STORAGE_BYTES;
    r->gather_budget = 2 * PT_ZERO_STORAGE_BYTES + 2 * size + ((size_t)16 << 20);
    eva_status st = read_tree(r, pkl, size, info);
    free(r);
    if (st) {
        eva_tensor_map_free(out);
        init_map(out, what);
    }
    return st;
}
