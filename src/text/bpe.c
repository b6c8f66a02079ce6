/* bpe.c — the CLIP byte-level BPE: vocabulary from the embedded merges file, pair -> rank hash
 * map, and the merge loop of open_clip's SimpleTokenizer.bpe().
 *
 * Ids (golden README §4.1 step 6): 0..255 the GPT-2 byte characters in bytes_to_unicode order,
 * 256..511 the same with "</w>", 512 + r the result of merge line r (r = 0..48893),
 * 49406 "<start_of_text>", 49407 "<end_of_text>". Merged strings are unique in this file (checked
 * at load), so a symbol's id is its string's id and pair ranks can be keyed by (id, id). */
#include "text/tokenizer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

extern const uint8_t eva_vocab_gz[] __attribute__((visibility("hidden")));
extern const uint8_t eva_vocab_gz_end[] __attribute__((visibility("hidden")));

#define STR_CAP (1u << 17)    /* string -> id table, > 2 x 49408 */
#define PAIR_CAP (1u << 17)   /* (id, id) -> rank table, > 2 x 48894 */

typedef struct bpe_vocab {
    char *pool;                        /* all token strings, NUL-terminated */
    uint32_t str_off[EVA_TOK_VOCAB];
    uint16_t str_len[EVA_TOK_VOCAB];
    int32_t str_slot[STR_CAP];         /* id + 1, 0 = empty */
    uint64_t pair_key[PAIR_CAP];       /* ((a << 32) | b) + 1, 0 = empty */
    int32_t pair_rank[PAIR_CAP];
    uint16_t byte_id[256];             /* byte -> id of its character token */
} bpe_vocab;

static bpe_vocab *g_vocab;
static eva_status g_init_status = EVA_ERR_INTERNAL;
static char g_init_msg[256];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static uint32_t hash_u64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static int32_t str_find(const bpe_vocab *v, const char *s, size_t n) {
    for (uint32_t h = hash_bytes(s, n) & (STR_CAP - 1);; h = (h + 1) & (STR_CAP - 1)) {
        int32_t id = v->str_slot[h] - 1;
        if (id < 0) return -1;
        if (v->str_len[id] == n && memcmp(v->pool + v->str_off[id], s, n) == 0) return id;
    }
}

static void str_insert(bpe_vocab *v, int32_t id) {
    const char *s = v->pool + v->str_off[id];
    uint32_t h = hash_bytes(s, v->str_len[id]) & (STR_CAP - 1);
    while (v->str_slot[h]) h = (h + 1) & (STR_CAP - 1);
    v->str_slot[h] = id + 1;
}

static inline int32_t pair_rank(const bpe_vocab *v, int32_t a, int32_t b) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    for (uint32_t h = hash_u64(key) & (PAIR_CAP - 1);; h = (h + 1) & (PAIR_CAP - 1)) {
        if (v->pair_key[h] == key) return v->pair_rank[h];
        if (v->pair_key[h] == 0) return -1;
    }
}

/* GPT-2 bytes_to_unicode: bytes 33-126, 161-172, 174-255 map to themselves (in that order),
 * the other 68 bytes to U+0100.. in increasing order. Fills order[i] = byte, cp[i] = char. */
static void byte_table(uint8_t order[256], uint32_t cp[256]) {
    int k = 0, extra = 0;
    for (int b = 0; b < 256; b++)
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
            order[k] = (uint8_t)b; cp[k] = (uint32_t)b; k++;
        }
    for (int b = 0; b < 256; b++)
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
            order[k] = (uint8_t)b; cp[k] = 256u + (uint32_t)extra++; k++;
        }
}

static eva_status inflate_gz(const uint8_t *src, size_t n, char **out, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return eva_fail(EVA_ERR_INTERNAL, "tokenizer: inflateInit2 failed");
    size_t cap = 4u << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf) { inflateEnd(&zs); return eva_fail(EVA_ERR_NOMEM, "tokenizer: out of memory"); }
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (len == cap) {
            if (cap > (64u << 20)) { rc = Z_DATA_ERROR; break; }
            char *nb = realloc(buf, cap * 2);
            if (!nb) { rc = Z_MEM_ERROR; break; }
            buf = nb;
            cap *= 2;
        }
        zs.next_out = (Bytef *)buf + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) break;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return eva_fail(EVA_ERR_INTERNAL, "tokenizer: embedded vocabulary does not inflate (zlib %d)", rc);
    }
    *out = buf;
    *out_len = len;
    return EVA_OK;
}

static eva_status build_vocab(bpe_vocab **out) {
    char *text = NULL;
    size_t text_len = 0;
    eva_status st = inflate_gz(eva_vocab_gz, (size_t)(eva_vocab_gz_end - eva_vocab_gz), &text, &text_len);
    if (st != EVA_OK) return st;
    bpe_vocab *v = calloc(1, sizeof *v);
    /* pool: byte tokens (<= 2 bytes + "</w>") + merged strings (< line length) + specials */
    size_t pool_cap = 256 * 16 + text_len + 64;
    char *pool = v ? malloc(pool_cap) : NULL;
    if (!v || !pool) {
        free(v); free(pool); free(text);
        return eva_fail(EVA_ERR_NOMEM, "tokenizer: out of memory");
    }
    v->pool = pool;
    size_t used = 0;
#define ADD_STR(id_, p_, n_) do { memcpy(pool + used, (p_), (n_)); pool[used + (n_)] = 0; \
        v->str_off[id_] = (uint32_t)used; v->str_len[id_] = (uint16_t)(n_); used += (n_) + 1; \
        str_insert(v, (id_)); } while (0)
    uint8_t order[256];
    uint32_t cp[256];
    byte_table(order, cp);
    for (int i = 0; i < 256; i++) {
        uint8_t u[8];
        int k = eva_utf8_put(cp[i], u);
        memcpy(u + k, "</w>", 4);
        v->byte_id[order[i]] = (uint16_t)i;
        ADD_STR(i, u, (size_t)k);
        ADD_STR(256 + i, u, (size_t)k + 4);
    }
    /* merges: lines 1..48894 after the "#version" header */
    const char *p = text, *end = text + text_len;
    const char *nl = memchr(p, '\n', text_len);
    if (!nl) { st = eva_fail(EVA_ERR_INTERNAL, "tokenizer: vocabulary has no header line"); goto fail; }
    p = nl + 1;
    for (int r = 0; r < EVA_TOK_MERGES; r++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(le - p));
        if (!sp || sp == p || sp + 1 >= le || memchr(sp + 1, ' ', (size_t)(le - sp - 1)) || le - p > 200) {
            st = eva_fail(EVA_ERR_INTERNAL, "tokenizer: vocabulary merge line %d malformed", r + 2);
            goto fail;
        }
        int32_t a = str_find(v, p, (size_t)(sp - p)), b = str_find(v, sp + 1, (size_t)(le - sp - 1));
        if (a < 0 || b < 0) {
            st = eva_fail(EVA_ERR_INTERNAL, "tokenizer: merge line %d uses an unknown symbol", r + 2);
            goto fail;
        }
        int32_t id = 512 + r;
        char merged[256];
        size_t la = (size_t)(sp - p), lb = (size_t)(le - sp - 1);
        memcpy(merged, p, la);
        memcpy(merged + la, sp + 1, lb);
        if (str_find(v, merged, la + lb) >= 0) {
            st = eva_fail(EVA_ERR_INTERNAL, "tokenizer: merge line %d repeats a token", r + 2);
            goto fail;
        }
        ADD_STR(id, merged, la + lb);
        uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
        uint32_t h = hash_u64(key) & (PAIR_CAP - 1);
        while (v->pair_key[h] && v->pair_key[h] != key) h = (h + 1) & (PAIR_CAP - 1);
        if (!v->pair_key[h]) {   /* a repeated pair would keep the later rank in Python */
            v->pair_key[h] = key;
        }
        v->pair_rank[h] = r;
        if (!nl) { st = eva_fail(EVA_ERR_INTERNAL, "tokenizer: vocabulary truncated"); goto fail; }
        p = nl + 1;
    }
    ADD_STR(EVA_TOK_SOT, "<start_of_text>", 15);
    ADD_STR(EVA_TOK_EOT, "<end_of_text>", 13);
#undef ADD_STR
    free(text);
    *out = v;
    return EVA_OK;
fail:
    free(text);
    free(v->pool);
    free(v);
    return st;
}

static void init_once(void) {
    g_init_status = build_vocab(&g_vocab);
    if (g_init_status != EVA_OK) snprintf(g_init_msg, sizeof g_init_msg, "%s", eva_last_error());
}

eva_status eva_bpe_init(void) {
    pthread_once(&g_once, init_once);
    if (g_init_status != EVA_OK) return eva_fail(g_init_status, "%s", g_init_msg);
    return EVA_OK;
}

const char *eva_bpe_token_str(int32_t id) {
    if (eva_bpe_init() != EVA_OK || id < 0 || id >= EVA_TOK_VOCAB) return NULL;
    return g_vocab->pool + g_vocab->str_off[id];
}

/* Python's loop: find the adjacent pair with the lowest rank, merge all its non-overlapping
 * occurrences left to right, repeat. O(n^2) per word: used for ordinary words. */
static size_t bpe_simple(const bpe_vocab *v, int32_t *s, size_t n) {
    while (n > 1) {
        int32_t best = INT32_MAX;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t r = pair_rank(v, s[i], s[i + 1]);
            if (r >= 0 && r < best) best = r;
        }
        if (best == INT32_MAX) break;
        int32_t a = 0, b = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (pair_rank(v, s[i], s[i + 1]) == best) { a = s[i]; b = s[i + 1]; break; }
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) { s[w++] = 512 + best; i += 2; }
            else s[w++] = s[i++];
        }
        n = w;
    }
    return n;
}

/* The same result in O(n log n) for long words (e.g. 100 kB without a space): a min-heap of
 * (rank, position) over a linked list of symbols. Equal ranks pop left to right, and the merges
 * of this vocabulary only create pairs of higher rank (checked offline), so the order of merges
 * equals Python's. */
typedef struct { int32_t rank; uint32_t pos; } heap_ent;

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].rank < e.rank || (h[p].rank == e.rank && h[p].pos <= e.pos)) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
    heap_ent top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && (h[c + 1].rank < h[c].rank || (h[c + 1].rank == h[c].rank && h[c + 1].pos < h[c].pos))) c++;
        if (last.rank < h[c].rank || (last.rank == h[c].rank && last.pos <= h[c].pos)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

size_t eva_bpe_merge_heap(int32_t *s, size_t n);
size_t eva_bpe_merge_heap(int32_t *s, size_t n) {
    const bpe_vocab *v = g_vocab;
    if (n < 2) return n;
    uint32_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
    heap_ent *h = malloc(2 * n * sizeof *h);   /* n - 1 initial + one or two per merge */
    if (!next || !prev || !h) {
        free(next); free(prev); free(h);
        return 0;
    }
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = (uint32_t)(i + 1);
        prev[i] = (uint32_t)(i - 1);   /* wraps for i = 0: UINT32_MAX marks none */
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = pair_rank(v, s[i], s[i + 1]);
        if (r >= 0) heap_push(h, &hn, (heap_ent){r, (uint32_t)i});
    }
    while (hn > 0) {
        heap_ent e = heap_pop(h, &hn);
        uint32_t i = e.pos;
        if (s[i] < 0 || next[i] >= n) continue;                 /* removed, or now last */
        uint32_t j = next[i];
        if (pair_rank(v, s[i], s[j]) != e.rank) continue;        /* stale entry */
        s[i] = 512 + e.rank;
        s[j] = -1;
        next[i] = next[j];
        if (next[j] < n) prev[next[j]] = i;
        if (prev[i] != UINT32_MAX) {
            int32_t r = pair_rank(v, s[prev[i]], s[i]);
            if (r >= 0 && hn < 2 * n) heap_push(h, &hn, (heap_ent){r, prev[i]});
        }
        if (next[i] < n) {
            int32_t r = pair_rank(v, s[i], s[next[i]]);
            if (r >= 0 && hn < 2 * n) heap_push(h, &hn, (heap_ent){r, i});
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0) s[w++] = s[i];
    free(next); free(prev); free(h);
    return w;
}

/* Exposed for tests: run the simple O(n^2) loop (the reference). */
size_t eva_bpe_merge_simple(int32_t *s, size_t n);
size_t eva_bpe_merge_simple(int32_t *s, size_t n) { return bpe_simple(g_vocab, s, n); }

int eva_bpe_piece(const uint8_t *piece, size_t len, int32_t *ids, size_t room) {
    if (!g_vocab && eva_bpe_init() != EVA_OK) return -1;
    const bpe_vocab *v = g_vocab;
    if (len == 0) return 0;
    if (len > (1u << 30)) return -1;   /* a single 1 GiB piece: refuse rather than overflow */
    if (len == 15 && memcmp(piece, "<start_of_text>", 15) == 0) {
        if (room) ids[0] = EVA_TOK_SOT;
        return 1;
    }
    if (len == 13 && memcmp(piece, "<end_of_text>", 13) == 0) {
        if (room) ids[0] = EVA_TOK_EOT;
        return 1;
    }
    int32_t small[64];
    int32_t *s = len <= 64 ? small : malloc(len * sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < len; i++) s[i] = v->byte_id[piece[i]];
    s[len - 1] += 256;   /* "</w>" on the last character */
    size_t n = len <= 64 ? bpe_simple(v, s, len) : eva_bpe_merge_heap(s, len);
    if (n == 0) {   /* heap allocation failed */
        if (s != small) free(s);
        return -1;
    }
    for (size_t i = 0; i < n && i < room; i++) ids[i] = s[i];
    if (s != small) free(s);
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}
