/* pt_internal.h — the pieces of the PyTorch .pt reader (pt_zip.c, pt_pickle.c, pt_reader.c).
 *
 * A torch.save file (torch >= 1.6) is a zip archive:
 *   <stem>/data.pkl      pickle (protocol 2 by default) describing the object tree
 *   <stem>/data/<key>    one raw little-endian storage per key, referenced from the pickle
 *   <stem>/version, <stem>/byteorder, <stem>/.data/serialization_id ... (ignored)
 * Every byte of the file is untrusted: the zip layer checks every offset and size, the
 * unpickler executes nothing (it builds an inert value tree from an allow-list of globals),
 * and the reader checks each tensor view against its storage before exposing it. */
#ifndef EVA_PT_INTERNAL_H
#define EVA_PT_INTERNAL_H

#include "io/tensor_map.h"

/* ================================================================ zip (pt_zip.c) */

typedef struct eva_zip_entry {
    char *name;
    uint64_t header_offset;   /* local header */
    uint64_t data_offset;     /* first byte of the (compressed) data */
    uint64_t csize, usize;    /* compressed / uncompressed sizes (central directory) */
    uint32_t crc32;
    uint16_t method;          /* 0 stored, 8 deflated */
} eva_zip_entry;

typedef struct eva_zip {
    const uint8_t *data;
    size_t size;
    eva_zip_entry *entries;
    int count;
    int *sorted;              /* entry indices sorted by name, for eva_zip_find */
} eva_zip;

/* Limits on untrusted archives. */
#define EVA_ZIP_MAX_ENTRIES (1 << 20)
#define EVA_ZIP_MAX_NAME 4096
/* Deflate cannot expand more than ~1032:1; a larger declared ratio is a bomb or a lie. */
#define EVA_ZIP_MAX_RATIO 1040u

/* Parse the central directory (ZIP64 aware) and validate every entry: inside the file, local
 * header consistent, no two entries overlapping, methods stored/deflate only. */
eva_status eva_zip_open(const uint8_t *data, size_t size, const char *what, eva_zip *out);
void eva_zip_free(eva_zip *z);
/* Index of the entry named exactly `name`, or -1. */
int eva_zip_find(const eva_zip *z, const char *name);
/* Bytes of entry i: stored entries are returned in place (*owned = NULL); deflated ones are
 * inflated into a new eva_aligned_alloc block of exactly usize bytes (*owned = that block, the
 * caller frees it or hands it to a tensor map), CRC-checked. */
eva_status eva_zip_read(const eva_zip *z, int i, const uint8_t **bytes, size_t *len, void **owned);

/* ================================================================ pickle (pt_pickle.c) */

typedef enum eva_pv_kind {
    EVA_PV_NONE, EVA_PV_BOOL, EVA_PV_INT, EVA_PV_FLOAT, EVA_PV_STR, EVA_PV_BYTES,
    EVA_PV_TUPLE, EVA_PV_LIST, EVA_PV_DICT, EVA_PV_SET,
    EVA_PV_GLOBAL,     /* an allow-listed callable/class (see eva_pv_global) */
    EVA_PV_STORAGE,    /* persistent id ('storage', cls, key, location, numel) */
    EVA_PV_TENSOR,     /* _rebuild_tensor_v2(...) */
    EVA_PV_OBJECT,     /* inert opaque object (argparse.Namespace, numpy scalar, ...) */
} eva_pv_kind;

typedef enum eva_pv_global {
    EVA_G_ORDERED_DICT, EVA_G_REBUILD_TENSOR_V2, EVA_G_REBUILD_TENSOR, EVA_G_REBUILD_PARAMETER,
    EVA_G_STORAGE, EVA_G_SET, EVA_G_FROZENSET, EVA_G_NAMESPACE, EVA_G_CODECS_ENCODE,
    EVA_G_TORCH_SIZE, EVA_G_OPAQUE,
} eva_pv_global;

typedef struct eva_pv eva_pv;
struct eva_pv {
    eva_pv_kind kind;
    int64_t i;            /* INT/BOOL value; GLOBAL: eva_pv_global; STORAGE: numel */
    bool big;             /* INT that does not fit int64 (value not kept) */
    double f;
    char *s;              /* STR (UTF-8, NUL-terminated) / BYTES; GLOBAL: "module.name";
                             STORAGE: key */
    size_t len;           /* bytes in s */
    eva_pv **items;       /* TUPLE/LIST/SET items; DICT: key0, value0, key1, value1, ... */
    size_t n, cap;        /* DICT: n counts keys and values (2 per entry) */
    /* STORAGE: dtype (-1: a storage class eva.c does not support). GLOBAL EVA_G_STORAGE too. */
    int dtype;
    struct eva_pv_tensor *tensor;   /* TENSOR: the view (a separate block keeps eva_pv small) */
};

typedef struct eva_pv_tensor {
    eva_pv *storage;
    int64_t offset;        /* elements */
    int ndim;
    int64_t shape[EVA_MAX_DIMS];
    int64_t stride[EVA_MAX_DIMS];   /* elements, >= 0 */
} eva_pv_tensor;

/* Limits on untrusted pickles. */
#define EVA_PICKLE_MAX_MEMO (1u << 22)
#define EVA_PICKLE_MAX_OBJECTS (1u << 23)   /* ~80 bytes each */
#define EVA_PICKLE_MAX_STACK (1u << 20)
#define EVA_PICKLE_MAX_MARKS (1u << 12)
#define EVA_PICKLE_MAX_DEPTH 256    /* nesting of containers when the tree is walked */

typedef struct eva_pickle eva_pickle;   /* owns every value it produced */

/* Unpickle `data` (no code runs; globals outside the allow-list -> EVA_ERR_SECURITY).
 * On success *root is the top-level value, valid until eva_pickle_free. */
eva_status eva_pickle_load(const uint8_t *data, size_t size, const char *what, eva_pickle **out, eva_pv **root);
void eva_pickle_free(eva_pickle *p);
size_t eva_pickle_object_count(const eva_pickle *p);

/* ================================================================ reader (pt_reader.c) */

/* Parse a bare data.pkl (no archive): every storage reads as zeros (numel * element size, at
 * most 64 KiB each, 1 MiB in all). Exercises the unpickler and the tree walk; used by the fuzzer. */
eva_status eva_pt_parse_pickle(const uint8_t *pkl, size_t size, const char *what, eva_tensor_map *out,
                               eva_pt_info *info);

#endif /* EVA_PT_INTERNAL_H */
