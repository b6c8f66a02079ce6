/* pt_pickle.c — a restricted unpickler for torch.save's data.pkl (protocols 2-5).
 *
 * Nothing is ever executed. Opcodes build an inert tree of eva_pv values; GLOBAL/STACK_GLOBAL
 * resolve only names on a fixed allow-list (anything else is refused with EVA_ERR_SECURITY
 * naming the global), and REDUCE/NEWOBJ/BUILD are interpreted for those few names only:
 * OrderedDict() -> dict, _rebuild_tensor_v2(...) -> tensor, set(...) -> set, Namespace ->
 * opaque object, _codecs.encode(s, 'latin1') -> bytes. BUILD state (OrderedDict._metadata,
 * Namespace fields) is ignored.
 * Every value is owned by the eva_pickle and freed at once; the machine itself never recurses,
 * so hostile nesting costs memory bounded by the input size, not C stack. */
#include "io/pt_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct eva_pickle {
    eva_pv **objs;
    size_t count, cap;
};

typedef struct up {
    const uint8_t *d;
    size_t n, pos;
    const char *what;
    eva_pickle *pk;
    eva_pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    eva_pv **memo;
    size_t memo_cap, memo_count;
    eva_status err;     /* why the last pv_new/new_str returned NULL */
} up;

void eva_pickle_free(eva_pickle *p) {
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) {
        free(p->objs[i]->s);
        free(p->objs[i]->items);
        free(p->objs[i]->tensor);
        free(p->objs[i]);
    }
    free(p->objs);
    free(p);
}

size_t eva_pickle_object_count(const eva_pickle *p) { return p ? p->count : 0; }

/* ---------------------------------------------------------------- helpers */

static eva_status bad(up *u, const char *msg) {
    return eva_fail(EVA_ERR_FORMAT, "%s: data.pkl: %s (at byte %zu)", u->what, msg, u->pos);
}

static eva_pv *pv_new(up *u, eva_pv_kind kind) {
    eva_pickle *p = u->pk;
    if (p->count >= EVA_PICKLE_MAX_OBJECTS) {
        u->err = eva_fail(EVA_ERR_FORMAT, "%s: data.pkl: more than %u objects", u->what, EVA_PICKLE_MAX_OBJECTS);
        return NULL;
    }
    if (p->count == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        eva_pv **o = realloc(p->objs, nc * sizeof *o);
        if (!o) { u->err = eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what); return NULL; }
        p->objs = o;
        p->cap = nc;
    }
    eva_pv *v = calloc(1, sizeof *v);
    if (!v) { u->err = eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what); return NULL; }
    v->kind = kind;
    p->objs[p->count++] = v;
    return v;
}

/* The status of a NULL from pv_new/new_str: the message is already set. */
static eva_status last_status(const up *u) { return u->err ? u->err : EVA_ERR_INTERNAL; }

static eva_status pv_append(up *u, eva_pv *c, eva_pv *item) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        eva_pv **it = realloc(c->items, nc * sizeof *it);
        if (!it) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
        c->items = it;
        c->cap = nc;
    }
    c->items[c->n++] = item;
    return EVA_OK;
}

static eva_status push(up *u, eva_pv *v) {
    if (!v) return last_status(u);
    if (u->sp == u->scap) {
        if (u->scap >= EVA_PICKLE_MAX_STACK) return bad(u, "stack deeper than the limit");
        size_t nc = u->scap ? u->scap * 2 : 64;
        eva_pv **s = realloc(u->stack, nc * sizeof *s);
        if (!s) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
        u->stack = s;
        u->scap = nc;
    }
    u->stack[u->sp++] = v;
    return EVA_OK;
}

/* Pop one value above the current mark (a mark cannot be popped as a value). */
static eva_pv *pop(up *u) {
    size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    if (u->sp <= floor) return NULL;
    return u->stack[--u->sp];
}

static eva_pv *top(up *u) {
    size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    return u->sp > floor ? u->stack[u->sp - 1] : NULL;
}

/* The value just below the values stack[start .. sp) of a popped mark (the list/dict/set that
 * APPENDS/SETITEMS/ADDITEMS fill), or NULL if that would cross the enclosing mark. */
static eva_pv *below(up *u, size_t start) {
    size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    return start > floor ? u->stack[start - 1] : NULL;
}

/* Pop the topmost mark: the values above it are stack[*start .. sp). */
static eva_status pop_mark(up *u, size_t *start) {
    if (!u->nmarks) return bad(u, "no MARK on the stack");
    *start = u->marks[--u->nmarks];
    return EVA_OK;
}

static bool need(up *u, size_t k) { return k <= u->n - u->pos; }

static eva_status memo_put(up *u, uint64_t idx) {
    eva_pv *v = top(u);
    if (!v) return bad(u, "memo store with an empty stack");
    if (idx >= EVA_PICKLE_MAX_MEMO) return bad(u, "memo index out of range");
    if (idx >= u->memo_cap) {
        size_t nc = u->memo_cap ? u->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        eva_pv **m = realloc(u->memo, nc * sizeof *m);
        if (!m) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
        memset(m + u->memo_cap, 0, (nc - u->memo_cap) * sizeof *m);
        u->memo = m;
        u->memo_cap = nc;
    }
    if (!u->memo[idx]) u->memo_count++;
    u->memo[idx] = v;
    return EVA_OK;
}

static eva_status memo_get(up *u, uint64_t idx) {
    if (idx >= u->memo_cap || !u->memo[idx]) return bad(u, "memo index out of range (GET before PUT)");
    return push(u, u->memo[idx]);
}

static eva_pv *new_str(up *u, eva_pv_kind kind, const uint8_t *s, size_t len) {
    eva_pv *v = pv_new(u, kind);
    if (!v) return NULL;
    v->s = malloc(len + 1);
    if (!v->s) { u->err = eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what); return NULL; }
    memcpy(v->s, s, len);
    v->s[len] = 0;
    v->len = len;
    return v;
}

static eva_pv *new_int(up *u, int64_t x) {
    eva_pv *v = pv_new(u, EVA_PV_INT);
    if (v) v->i = x;
    return v;
}

/* Read a '\n'-terminated line (GLOBAL, PUT, GET): at most 256 bytes. */
static eva_status read_line(up *u, const char **s, size_t *len) {
    size_t lim = EVA_MIN(u->n - u->pos, (size_t)257);
    const uint8_t *nl = memchr(u->d + u->pos, '\n', lim);
    if (!nl) return bad(u, "unterminated or over-long text argument");
    *s = (const char *)(u->d + u->pos);
    *len = (size_t)(nl - (u->d + u->pos));
    u->pos += *len + 1;
    return EVA_OK;
}

/* ---------------------------------------------------------------- the allow-list */

static const struct { const char *name; int dtype; } k_storages[] = {
    {"FloatStorage", EVA_F32}, {"HalfStorage", EVA_F16}, {"BFloat16Storage", EVA_BF16},
    {"DoubleStorage", EVA_F64}, {"LongStorage", EVA_I64}, {"IntStorage", EVA_I32},
    {"ShortStorage", EVA_I16}, {"CharStorage", EVA_I8}, {"ByteStorage", EVA_U8},
    {"BoolStorage", EVA_BOOL}, {"UntypedStorage", EVA_U8},   /* torch 2.x raw storages: bytes */
    /* Known torch storages eva.c has no dtype for: tensors on them are refused as unsupported. */
    {"ComplexFloatStorage", -1}, {"ComplexDoubleStorage", -1}, {"QInt8Storage", -1},
    {"QUInt8Storage", -1}, {"QInt32Storage", -1}, {"QUInt4x2Storage", -1}, {"QUInt2x4Storage", -1},
};

static const struct { const char *mod, *name; eva_pv_global g; } k_globals[] = {
    {"collections", "OrderedDict", EVA_G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", EVA_G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_tensor", EVA_G_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", EVA_G_REBUILD_PARAMETER},
    {"__builtin__", "set", EVA_G_SET},
    {"builtins", "set", EVA_G_SET},
    {"__builtin__", "frozenset", EVA_G_FROZENSET},
    {"builtins", "frozenset", EVA_G_FROZENSET},
    {"argparse", "Namespace", EVA_G_NAMESPACE},
    {"_codecs", "encode", EVA_G_CODECS_ENCODE},
    {"torch", "Size", EVA_G_TORCH_SIZE},
    /* numpy scalars/dtypes (e.g. a best-accuracy number) become inert opaque objects: their
     * bytes are never interpreted. */
    {"numpy.core.multiarray", "scalar", EVA_G_OPAQUE},
    {"numpy._core.multiarray", "scalar", EVA_G_OPAQUE},
    {"numpy", "dtype", EVA_G_OPAQUE},
};

static eva_status resolve_global(up *u, const char *mod, size_t mlen, const char *name, size_t nlen) {
    char full[160];
    snprintf(full, sizeof full, "%.*s.%.*s", (int)EVA_MIN(mlen, (size_t)70), mod, (int)EVA_MIN(nlen, (size_t)70), name);
    int g = -1, dtype = -1;
    for (size_t i = 0; i < EVA_ARRAY_LEN(k_globals) && g < 0; i++)
        if (strlen(k_globals[i].mod) == mlen && memcmp(k_globals[i].mod, mod, mlen) == 0 &&
            strlen(k_globals[i].name) == nlen && memcmp(k_globals[i].name, name, nlen) == 0)
            g = (int)k_globals[i].g;
    if (g < 0 && mlen == 5 && memcmp(mod, "torch", 5) == 0)
        for (size_t i = 0; i < EVA_ARRAY_LEN(k_storages); i++)
            if (strlen(k_storages[i].name) == nlen && memcmp(k_storages[i].name, name, nlen) == 0) {
                g = EVA_G_STORAGE;
                dtype = k_storages[i].dtype;
                break;
            }
    if (g < 0)
        return eva_fail(EVA_ERR_SECURITY, "%s: refusing pickle global '%s' (not on the allow-list; eva.c never runs code from a checkpoint)",
                        u->what, full);
    eva_pv *v = new_str(u, EVA_PV_GLOBAL, (const uint8_t *)full, strlen(full));
    if (!v) return last_status(u);
    v->i = g;
    v->dtype = dtype;
    return push(u, v);
}

/* ---------------------------------------------------------------- REDUCE / NEWOBJ targets */

static bool int_arg(const eva_pv *v, int64_t *out) {
    if (!v || (v->kind != EVA_PV_INT && v->kind != EVA_PV_BOOL) || v->big) return false;
    *out = v->i;
    return true;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
 * Checks the view against the storage's element count; byte bounds are checked by the reader. */
static eva_status build_tensor(up *u, const eva_pv *args) {
    if (args->n < 4) return bad(u, "_rebuild_tensor with fewer than 4 arguments");
    eva_pv *st = args->items[0], *size = args->items[2], *stride = args->items[3];
    int64_t off;
    if (st->kind != EVA_PV_STORAGE) return bad(u, "_rebuild_tensor: first argument is not a storage");
    if (!int_arg(args->items[1], &off) || off < 0) return bad(u, "_rebuild_tensor: bad storage offset");
    if (size->kind != EVA_PV_TUPLE || stride->kind != EVA_PV_TUPLE || size->n != stride->n)
        return bad(u, "_rebuild_tensor: size/stride are not tuples of the same length");
    if (size->n > EVA_MAX_DIMS)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: tensor with %zu dimensions (at most %d supported)", u->what, size->n, EVA_MAX_DIMS);
    eva_pv *tv = pv_new(u, EVA_PV_TENSOR);
    if (!tv) return last_status(u);
    eva_pv_tensor *t = tv->tensor = calloc(1, sizeof *t);
    if (!t) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
    t->storage = st;
    t->offset = off;
    t->ndim = (int)size->n;
    int64_t numel = 1, last = off;
    for (int k = 0; k < t->ndim; k++) {
        if (!int_arg(size->items[k], &t->shape[k]) || !int_arg(stride->items[k], &t->stride[k]) || t->shape[k] < 0 ||
            t->stride[k] < 0)
            return bad(u, "_rebuild_tensor: negative or non-integer size/stride");
        if (__builtin_mul_overflow(numel, t->shape[k], &numel) || numel > (INT64_MAX >> 4))
            return bad(u, "_rebuild_tensor: element count overflows");
    }
    if (numel > 0) {
        for (int k = 0; k < t->ndim; k++) {
            int64_t span;
            if (__builtin_mul_overflow(t->shape[k] - 1, t->stride[k], &span) || __builtin_add_overflow(last, span, &last))
                return bad(u, "_rebuild_tensor: view extent overflows");
        }
        if (last >= st->i)
            return eva_fail(EVA_ERR_FORMAT, "%s: data.pkl: tensor view (offset %lld, last element %lld) lies outside its storage '%s' of %lld elements",
                            u->what, (long long)off, (long long)last, st->s, (long long)st->i);
    } else if (off > st->i) {
        return bad(u, "_rebuild_tensor: storage offset past the end of the storage");
    }
    return push(u, tv);
}

/* Convert the UTF-8 text of _codecs.encode(text, 'latin1') back to the original bytes. */
static eva_status codecs_encode(up *u, const eva_pv *args) {
    if (args->n < 1 || args->items[0]->kind != EVA_PV_STR) return bad(u, "_codecs.encode expects a string");
    const eva_pv *s = args->items[0];
    eva_pv *b = pv_new(u, EVA_PV_BYTES);
    if (!b) return last_status(u);
    b->s = malloc(s->len + 1);
    if (!b->s) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
    size_t o = 0;
    for (size_t i = 0; i < s->len; i++) {
        uint8_t c = (uint8_t)s->s[i];
        if (c < 0x80) {
            b->s[o++] = (char)c;
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s->len && ((uint8_t)s->s[i + 1] & 0xC0) == 0x80) {
            b->s[o++] = (char)(((c & 0x1F) << 6) | ((uint8_t)s->s[i + 1] & 0x3F));
            i++;
        } else {
            return bad(u, "_codecs.encode: text is not latin-1");
        }
    }
    b->s[o] = 0;
    b->len = o;
    return push(u, b);
}

static eva_status make_set(up *u, const eva_pv *args) {
    eva_pv *s = pv_new(u, EVA_PV_SET);
    if (!s) return last_status(u);
    if (args->n >= 1) {
        const eva_pv *src = args->items[0];
        if (src->kind != EVA_PV_LIST && src->kind != EVA_PV_TUPLE && src->kind != EVA_PV_SET) return bad(u, "set() of a non-sequence");
        for (size_t i = 0; i < src->n; i++) {
            eva_status st = pv_append(u, s, src->items[i]);
            if (st) return st;
        }
    }
    return push(u, s);
}

/* callable(*args) for an allow-listed callable; `newobj` for NEWOBJ (cls.__new__(cls, *args)). */
static eva_status call_global(up *u, const eva_pv *fn, const eva_pv *args, bool newobj) {
    if (fn->kind != EVA_PV_GLOBAL) return bad(u, newobj ? "NEWOBJ on a non-class" : "REDUCE on a non-callable");
    if (args->kind != EVA_PV_TUPLE) return bad(u, "call arguments are not a tuple");
    switch ((eva_pv_global)fn->i) {
    case EVA_G_ORDERED_DICT: {
        eva_pv *d = pv_new(u, EVA_PV_DICT);
        if (!d) return last_status(u);
        if (args->n >= 1 && !newobj) {
            /* OrderedDict([(k, v), ...]) */
            const eva_pv *src = args->items[0];
            if (src->kind != EVA_PV_LIST && src->kind != EVA_PV_TUPLE) return bad(u, "OrderedDict() of a non-sequence");
            for (size_t i = 0; i < src->n; i++) {
                const eva_pv *pair = src->items[i];
                if ((pair->kind != EVA_PV_TUPLE && pair->kind != EVA_PV_LIST) || pair->n != 2) return bad(u, "OrderedDict() item is not a pair");
                eva_status st = pv_append(u, d, pair->items[0]);
                if (!st) st = pv_append(u, d, pair->items[1]);
                if (st) return st;
            }
        }
        return push(u, d);
    }
    case EVA_G_REBUILD_TENSOR_V2:
    case EVA_G_REBUILD_TENSOR:
        if (newobj) break;
        return build_tensor(u, args);
    case EVA_G_REBUILD_PARAMETER:
        if (newobj || args->n < 1 || args->items[0]->kind != EVA_PV_TENSOR) break;
        return push(u, args->items[0]);
    case EVA_G_SET:
    case EVA_G_FROZENSET:
        return make_set(u, args);
    case EVA_G_NAMESPACE:
    case EVA_G_OPAQUE:
        return push(u, pv_new(u, EVA_PV_OBJECT));
    case EVA_G_CODECS_ENCODE:
        if (newobj) break;
        return codecs_encode(u, args);
    case EVA_G_TORCH_SIZE:
        if (args->n >= 1 && args->items[0]->kind == EVA_PV_TUPLE) return push(u, args->items[0]);
        break;
    case EVA_G_STORAGE:
        break;
    }
    return eva_fail(EVA_ERR_FORMAT, "%s: data.pkl: unexpected call of '%s' (at byte %zu)", u->what, fn->s, u->pos);
}

/* ('storage', StorageClass, key, location, numel) -> STORAGE value */
static eva_status persistent_load(up *u, const eva_pv *pid) {
    if (pid->kind != EVA_PV_TUPLE || pid->n < 5 || pid->items[0]->kind != EVA_PV_STR || strcmp(pid->items[0]->s, "storage") != 0)
        return bad(u, "persistent id is not a ('storage', ...) tuple");
    const eva_pv *cls = pid->items[1], *key = pid->items[2];
    int64_t numel;
    if (cls->kind != EVA_PV_GLOBAL || cls->i != EVA_G_STORAGE) return bad(u, "persistent id: second item is not a storage class");
    if (cls->dtype < 0) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: storage type '%s' is not supported", u->what, cls->s);
    if (key->kind != EVA_PV_STR && key->kind != EVA_PV_INT) return bad(u, "persistent id: storage key is not a string");
    if (!int_arg(pid->items[4], &numel) || numel < 0) return bad(u, "persistent id: bad element count");
    char kbuf[32];
    const char *ks = key->s;
    if (key->kind == EVA_PV_INT) {
        snprintf(kbuf, sizeof kbuf, "%lld", (long long)key->i);
        ks = kbuf;
    }
    if (strlen(ks) == 0 || strlen(ks) > 200 || strchr(ks, '/')) return bad(u, "persistent id: bad storage key");
    eva_pv *s = new_str(u, EVA_PV_STORAGE, (const uint8_t *)ks, strlen(ks));
    if (!s) return last_status(u);
    s->i = numel;
    s->dtype = cls->dtype;
    return push(u, s);
}

/* ---------------------------------------------------------------- the machine */

static int64_t le_signed(const uint8_t *p, size_t n) {
    uint64_t x = 0;
    for (size_t k = 0; k < n; k++) x |= (uint64_t)p[k] << (8 * k);
    if (n < 8 && n > 0 && (p[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);
    return (int64_t)x;
}

static eva_status run(up *u, eva_pv **root) {
    eva_status st = EVA_OK;
    while (u->pos < u->n) {
        uint8_t op = u->d[u->pos++];
        eva_pv *a, *b, *c;
        size_t start = 0, len = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if (!need(u, 1)) return bad(u, "truncated");
            if (u->d[u->pos] > 5) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: pickle protocol %u not supported", u->what, u->d[u->pos]);
            u->pos++;
            break;
        case 0x95: /* FRAME: a length hint only */
            if (!need(u, 8)) return bad(u, "truncated");
            u->pos += 8;
            break;
        case '.': /* STOP */
            if (!(a = pop(u))) return bad(u, "STOP with an empty stack");
            *root = a;
            return EVA_OK;
        case '0': /* POP */
            if (u->sp > (u->nmarks ? u->marks[u->nmarks - 1] : 0)) u->sp--;
            else if (u->nmarks) u->nmarks--;   /* Python pops the mark itself */
            else return bad(u, "POP on an empty stack");
            break;
        case '1': /* POP_MARK */
            if ((st = pop_mark(u, &start))) return st;
            u->sp = start;
            break;
        case '2': /* DUP */
            if (!(a = top(u))) return bad(u, "DUP on an empty stack");
            st = push(u, a);
            break;
        case '(': /* MARK */
            if (u->nmarks >= EVA_PICKLE_MAX_MARKS) return bad(u, "too many nested MARKs");
            if (u->nmarks == u->mcap) {
                size_t nc = u->mcap ? u->mcap * 2 : 16;
                size_t *m = realloc(u->marks, nc * sizeof *m);
                if (!m) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", u->what);
                u->marks = m;
                u->mcap = nc;
            }
            u->marks[u->nmarks++] = u->sp;
            break;
        case 'c': { /* GLOBAL module\nname\n */
            const char *m = NULL, *nm = NULL;
            size_t ml = 0, nl = 0;
            if ((st = read_line(u, &m, &ml)) || (st = read_line(u, &nm, &nl))) return st;
            st = resolve_global(u, m, ml, nm, nl);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(b = pop(u)) || !(a = pop(u))) return bad(u, "STACK_GLOBAL on a short stack");
            if (a->kind != EVA_PV_STR || b->kind != EVA_PV_STR) return bad(u, "STACK_GLOBAL arguments are not strings");
            st = resolve_global(u, a->s, a->len, b->s, b->len);
            break;
        case 'q': /* BINPUT */
            if (!need(u, 1)) return bad(u, "truncated");
            st = memo_put(u, u->d[u->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if (!need(u, 4)) return bad(u, "truncated");
            st = memo_put(u, (uint64_t)(uint32_t)le_signed(u->d + u->pos, 4));
            u->pos += 4;
            break;
        case 0x94: /* MEMOIZE */
            st = memo_put(u, u->memo_count);
            break;
        case 'h': /* BINGET */
            if (!need(u, 1)) return bad(u, "truncated");
            st = memo_get(u, u->d[u->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if (!need(u, 4)) return bad(u, "truncated");
            st = memo_get(u, (uint64_t)(uint32_t)le_signed(u->d + u->pos, 4));
            u->pos += 4;
            break;
        case 'p': case 'g': { /* PUT / GET (text protocol) */
            const char *s = NULL;
            if ((st = read_line(u, &s, &len))) return st;
            uint64_t idx = 0;
            if (len == 0 || len > 10) return bad(u, "bad memo index");
            for (size_t k = 0; k < len; k++) {
                if (s[k] < '0' || s[k] > '9') return bad(u, "bad memo index");
                idx = idx * 10 + (uint64_t)(s[k] - '0');
            }
            st = op == 'p' ? memo_put(u, idx) : memo_get(u, idx);
            break;
        }
        case ')': st = push(u, pv_new(u, EVA_PV_TUPLE)); break;   /* EMPTY_TUPLE */
        case ']': st = push(u, pv_new(u, EVA_PV_LIST)); break;    /* EMPTY_LIST */
        case '}': st = push(u, pv_new(u, EVA_PV_DICT)); break;    /* EMPTY_DICT */
        case 0x8f: st = push(u, pv_new(u, EVA_PV_SET)); break;    /* EMPTY_SET */
        case 't': case 'l': case 0x91: { /* TUPLE, LIST, FROZENSET: items above the mark */
            if ((st = pop_mark(u, &start))) return st;
            eva_pv *v = pv_new(u, op == 't' ? EVA_PV_TUPLE : op == 'l' ? EVA_PV_LIST : EVA_PV_SET);
            if (!v) return last_status(u);
            for (size_t k = start; k < u->sp && !st; k++) st = pv_append(u, v, u->stack[k]);
            u->sp = start;
            if (!st) st = push(u, v);
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t k = (size_t)(op - 0x84);
            size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
            if (u->sp - floor < k) return bad(u, "TUPLEn on a short stack");
            eva_pv *v = pv_new(u, EVA_PV_TUPLE);
            if (!v) return last_status(u);
            for (size_t i = u->sp - k; i < u->sp && !st; i++) st = pv_append(u, v, u->stack[i]);
            u->sp -= k;
            if (!st) st = push(u, v);
            break;
        }
        case 'd': { /* DICT */
            if ((st = pop_mark(u, &start))) return st;
            if ((u->sp - start) % 2) return bad(u, "DICT with an odd number of items");
            eva_pv *v = pv_new(u, EVA_PV_DICT);
            if (!v) return last_status(u);
            for (size_t k = start; k < u->sp && !st; k++) st = pv_append(u, v, u->stack[k]);
            u->sp = start;
            if (!st) st = push(u, v);
            break;
        }
        case 'a': /* APPEND */
            if (!(b = pop(u)) || !(a = top(u))) return bad(u, "APPEND on a short stack");
            if (a->kind == EVA_PV_LIST) st = pv_append(u, a, b);
            else if (a->kind != EVA_PV_OBJECT) return bad(u, "APPEND to a non-list");
            break;
        case 'e': case 0x90: /* APPENDS, ADDITEMS */
            if ((st = pop_mark(u, &start))) return st;
            if (!(a = below(u, start))) return bad(u, "APPENDS without a list");
            if (a->kind == (op == 'e' ? EVA_PV_LIST : EVA_PV_SET))
                for (size_t k = start; k < u->sp && !st; k++) st = pv_append(u, a, u->stack[k]);
            else if (a->kind != EVA_PV_OBJECT)
                return bad(u, op == 'e' ? "APPENDS to a non-list" : "ADDITEMS to a non-set");
            u->sp = start;
            break;
        case 's': /* SETITEM */
            if (!(c = pop(u)) || !(b = pop(u)) || !(a = top(u))) return bad(u, "SETITEM on a short stack");
            if (a->kind == EVA_PV_DICT) {
                if (!(st = pv_append(u, a, b))) st = pv_append(u, a, c);
            } else if (a->kind != EVA_PV_OBJECT) {
                return bad(u, "SETITEM on a non-dict");
            }
            break;
        case 'u': /* SETITEMS */
            if ((st = pop_mark(u, &start))) return st;
            if (!(a = below(u, start))) return bad(u, "SETITEMS without a dict");
            if ((u->sp - start) % 2) return bad(u, "SETITEMS with an odd number of items");
            if (a->kind == EVA_PV_DICT)
                for (size_t k = start; k < u->sp && !st; k++) st = pv_append(u, a, u->stack[k]);
            else if (a->kind != EVA_PV_OBJECT)
                return bad(u, "SETITEMS on a non-dict");
            u->sp = start;
            break;
        case 'X': case 0x8c: case 0x8d: /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
        case 'B': case 'C': case 0x8e: case 0x96: /* BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8 */
        case 'T': case 'U': { /* BINSTRING, SHORT_BINSTRING */
            size_t w = (op == 0x8c || op == 'C' || op == 'U') ? 1 : (op == 'X' || op == 'B' || op == 'T') ? 4 : 8;
            if (!need(u, w)) return bad(u, "truncated");
            uint64_t l = 0;
            for (size_t k = 0; k < w; k++) l |= (uint64_t)u->d[u->pos + k] << (8 * k);
            if (op == 'T' && (l & 0x80000000u)) return bad(u, "negative BINSTRING length");
            u->pos += w;
            if (l > u->n - u->pos) return bad(u, "string runs past the end of data.pkl");
            bool text = op == 'X' || op == 0x8c || op == 0x8d || op == 'T' || op == 'U';
            st = push(u, new_str(u, text ? EVA_PV_STR : EVA_PV_BYTES, u->d + u->pos, (size_t)l));
            u->pos += (size_t)l;
            break;
        }
        case 'J': /* BININT */
            if (!need(u, 4)) return bad(u, "truncated");
            st = push(u, new_int(u, le_signed(u->d + u->pos, 4)));
            u->pos += 4;
            break;
        case 'K': /* BININT1 */
            if (!need(u, 1)) return bad(u, "truncated");
            st = push(u, new_int(u, u->d[u->pos++]));
            break;
        case 'M': /* BININT2 */
            if (!need(u, 2)) return bad(u, "truncated");
            st = push(u, new_int(u, u->d[u->pos] | u->d[u->pos + 1] << 8));
            u->pos += 2;
            break;
        case 0x8a: case 0x8b: { /* LONG1, LONG4: little-endian two's complement */
            size_t w = op == 0x8a ? 1 : 4;
            if (!need(u, w)) return bad(u, "truncated");
            uint64_t l = 0;
            for (size_t k = 0; k < w; k++) l |= (uint64_t)u->d[u->pos + k] << (8 * k);
            if (op == 0x8b && (l & 0x80000000u)) return bad(u, "negative LONG4 length");
            u->pos += w;
            if (l > u->n - u->pos) return bad(u, "integer runs past the end of data.pkl");
            eva_pv *v = pv_new(u, EVA_PV_INT);
            if (!v) return last_status(u);
            if (l <= 8) v->i = le_signed(u->d + u->pos, (size_t)l);
            else v->big = true;
            u->pos += (size_t)l;
            st = push(u, v);
            break;
        }
        case 'G': { /* BINFLOAT: big-endian IEEE double */
            if (!need(u, 8)) return bad(u, "truncated");
            uint64_t x = 0;
            for (int k = 0; k < 8; k++) x = x << 8 | u->d[u->pos + k];
            u->pos += 8;
            eva_pv *v = pv_new(u, EVA_PV_FLOAT);
            if (!v) return last_status(u);
            memcpy(&v->f, &x, 8);
            st = push(u, v);
            break;
        }
        case 'N': st = push(u, pv_new(u, EVA_PV_NONE)); break;
        case 0x88: case 0x89: { /* NEWTRUE, NEWFALSE */
            eva_pv *v = pv_new(u, EVA_PV_BOOL);
            if (v) v->i = op == 0x88;
            st = push(u, v);
            break;
        }
        case 'R': /* REDUCE */
            if (!(b = pop(u)) || !(a = pop(u))) return bad(u, "REDUCE on a short stack");
            st = call_global(u, a, b, false);
            break;
        case 0x81: /* NEWOBJ */
            if (!(b = pop(u)) || !(a = pop(u))) return bad(u, "NEWOBJ on a short stack");
            st = call_global(u, a, b, true);
            break;
        case 0x92: /* NEWOBJ_EX: kwargs ignored */
            if (!(c = pop(u)) || !(b = pop(u)) || !(a = pop(u))) return bad(u, "NEWOBJ_EX on a short stack");
            st = call_global(u, a, b, true);
            break;
        case 'b': /* BUILD: state is ignored (OrderedDict._metadata, Namespace fields) */
            if (!pop(u) || !top(u)) return bad(u, "BUILD on a short stack");
            break;
        case 'Q': /* BINPERSID */
            if (!(a = pop(u))) return bad(u, "BINPERSID on an empty stack");
            st = persistent_load(u, a);
            break;
        case 'i': case 'o': case 0x82: case 0x83: case 0x84: case 'P':
            return eva_fail(EVA_ERR_SECURITY, "%s: data.pkl: refusing pickle opcode 0x%02x (INST/OBJ/EXT/PERSID are never used by torch.save)",
                            u->what, op);
        default:
            return eva_fail(EVA_ERR_FORMAT, "%s: data.pkl: unsupported pickle opcode 0x%02x at byte %zu", u->what, op, u->pos - 1);
        }
        if (st) return st;
    }
    return bad(u, "truncated: no STOP opcode");
}

eva_status eva_pickle_load(const uint8_t *data, size_t size, const char *what, eva_pickle **out, eva_pv **root) {
    *out = NULL;
    *root = NULL;
    up u;
    memset(&u, 0, sizeof u);
    u.d = data;
    u.n = size;
    u.what = what;
    u.pk = calloc(1, sizeof *u.pk);
    if (!u.pk) return eva_fail(EVA_ERR_NOMEM, "%s: out of memory unpickling", what);
    eva_status st = run(&u, root);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    if (st) {
        eva_pickle_free(u.pk);
        *root = NULL;
        return st;
    }
    *out = u.pk;
    return EVA_OK;
}
