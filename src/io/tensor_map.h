/* tensor_map.h — a named collection of tensors read from a file (safetensors or PyTorch .pt),
 * plus string metadata. Tensors are views into the file mapping wherever the bytes can be used
 * as they are (zero-copy); converted or gathered tensors live in blocks the map owns.
 * This struct is what the public `eva_tensor_file` handle points to. */
#ifndef EVA_TENSOR_MAP_H
#define EVA_TENSOR_MAP_H

#include "base/base.h"

typedef struct eva_named_tensor {
    char *name;
    eva_tensor t;        /* strides in elements; contiguous unless a .pt view says otherwise */
    size_t nbytes;       /* numel * dtype size */
} eva_named_tensor;

typedef struct eva_tensor_map {
    eva_named_tensor *items;
    int count, cap;
    char **meta_keys, **meta_values;
    int meta_count, meta_cap;
    eva_mapped_file file;    /* backing mapping, unmapped by eva_tensor_map_free */
    void **owned;            /* blocks freed with the map */
    int owned_count, owned_cap;
    char format[16];         /* "safetensors" | "pt" */
    char source[256];        /* path, for messages */
} eva_tensor_map;

void eva_tensor_map_init(eva_tensor_map *m);
void eva_tensor_map_free(eva_tensor_map *m);
/* Takes a copy of name; the tensor's data pointer is stored as is (view or owned block). */
eva_status eva_tensor_map_add(eva_tensor_map *m, const char *name, const eva_tensor *t);
eva_status eva_tensor_map_set_meta(eva_tensor_map *m, const char *key, const char *value);
const char *eva_tensor_map_get_meta(const eva_tensor_map *m, const char *key);
/* Register a malloc'd/aligned block for release with the map (eva_aligned_free). */
eva_status eva_tensor_map_own(eva_tensor_map *m, void *block);
eva_named_tensor *eva_tensor_map_find(const eva_tensor_map *m, const char *name);
/* Remove entries (e.g. after renaming); keeps order of the rest. */
void eva_tensor_map_remove(eva_tensor_map *m, const char *name);
eva_status eva_tensor_map_rename(eva_tensor_map *m, const char *from, const char *to);

/* safetensors: zero-copy read (mmap), validated against every lie a header can tell. */
eva_status eva_safetensors_read(const char *path, eva_tensor_map *out);
eva_status eva_safetensors_parse(const uint8_t *data, size_t size, const char *what, eva_tensor_map *out);

/* Open any supported file by content: "PK\3\4" -> PyTorch zip .pt, else safetensors. */
eva_status eva_tensor_map_open(const char *path, eva_tensor_map *out);

/* PyTorch .pt: implemented in pt_reader.c. Reads the whole pickle; tensors of every state dict
 * found are exposed with their full dotted path ("model.blocks.0.norm1.weight"), and
 * eva_pt_info tells what is at the top level. */
typedef struct eva_pt_entry {
    char key[128];
    int n_tensors;       /* tensors directly in this top-level dict (0 if not a dict of tensors) */
    char kind[32];       /* "state_dict", "int", "str", "dict", "list", "None", ... */
} eva_pt_entry;

typedef struct eva_pt_info {
    bool bare;              /* the top level itself is a state dict */
    int n_entries;
    eva_pt_entry entries[64];
} eva_pt_info;

eva_status eva_pt_read(const char *path, eva_tensor_map *out, eva_pt_info *info);
eva_status eva_pt_parse(const uint8_t *data, size_t size, const char *what, eva_tensor_map *out, eva_pt_info *info);

#endif /* EVA_TENSOR_MAP_H */
