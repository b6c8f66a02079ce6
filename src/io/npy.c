/* npy.c — streaming float32 .npy writer with resume, and a 2-D float32 reader (see npy.h). */
#include "io/npy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21   /* numpy.lib.format.GROWTH_AXIS_MAX_DIGITS */

struct eva_npy_writer {
    FILE *fp;
    char *path, *partial;
    int64_t cols, rows;
    size_t header_size;
};

size_t eva_npy_header(int64_t rows, int64_t cols, char *buf, size_t cap) {
    if (rows < 0 || cols < 0) return 0;
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64 "), }",
                     rows, cols);
    char rdig[32];
    int rd = snprintf(rdig, sizeof rdig, "%" PRId64, rows);
    if (n < 0 || rd < 0) return 0;
    size_t len = (size_t)n + (size_t)(NPY_GROWTH_DIGITS - rd > 0 ? NPY_GROWTH_DIGITS - rd : 0);
    size_t total = 10 + len + 1;
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xFF);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

/* ---------------------------------------------------------------- header parsing */

/* Find "'key':" in the dict text and return a pointer just after the colon (spaces skipped). */
static const char *dict_value(const char *h, size_t n, const char *key) {
    char pat[32];
    int k = snprintf(pat, sizeof pat, "'%s':", key);
    for (size_t i = 0; k > 0 && i + (size_t)k <= n; i++)
        if (memcmp(h + i, pat, (size_t)k) == 0) {
            const char *p = h + i + k;
            while (p < h + n && *p == ' ') p++;
            return p;
        }
    return NULL;
}

static bool parse_i64(const char **pp, const char *end, int64_t *out) {
    const char *p = *pp;
    while (p < end && *p == ' ') p++;
    int64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p == start) return false;
    while (p < end && (*p == 'L' || *p == ' ')) p++;
    *pp = p;
    *out = v;
    return true;
}

eva_status eva_npy_parse_header(const uint8_t *d, size_t size, const char *what,
                                int64_t *rows, int64_t *cols, size_t *data_offset) {
    if (size < 10 || memcmp(d, "\x93NUMPY", 6) != 0) return eva_fail(EVA_ERR_FORMAT, "%s: not a .npy file", what);
    size_t hl, pre;
    if (d[6] == 1) { hl = (size_t)d[8] | (size_t)d[9] << 8; pre = 10; }
    else if (d[6] == 2 || d[6] == 3) {
        if (size < 12) return eva_fail(EVA_ERR_FORMAT, "%s: .npy header truncated", what);
        hl = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
        pre = 12;
    } else return eva_fail(EVA_ERR_UNSUPPORTED, "%s: .npy format version %d not supported", what, d[6]);
    if (hl > size - pre) return eva_fail(EVA_ERR_FORMAT, "%s: .npy header truncated", what);
    const char *h = (const char *)d + pre, *end = h + hl;
    const char *v = dict_value(h, hl, "descr");
    if (!v || (size_t)(end - v) < 5 || memcmp(v, "'<f4'", 5) != 0)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: only little-endian float32 ('<f4') .npy files are supported", what);
    v = dict_value(h, hl, "fortran_order");
    if (!v || (size_t)(end - v) < 5 || memcmp(v, "False", 5) != 0)
        return eva_fail(EVA_ERR_UNSUPPORTED, "%s: Fortran-order .npy files are not supported", what);
    v = dict_value(h, hl, "shape");
    if (!v || v >= end || *v != '(') return eva_fail(EVA_ERR_FORMAT, "%s: .npy header has no shape", what);
    v++;
    int64_t dims[3];
    int nd = 0;
    while (v < end && *v != ')') {
        if (nd == 3 || !parse_i64(&v, end, &dims[nd])) return eva_fail(EVA_ERR_FORMAT, "%s: bad .npy shape", what);
        nd++;
        while (v < end && (*v == ',' || *v == ' ')) v++;
    }
    if (v >= end) return eva_fail(EVA_ERR_FORMAT, "%s: bad .npy shape", what);
    if (nd == 1) { *rows = 1; *cols = dims[0]; }
    else if (nd == 2) { *rows = dims[0]; *cols = dims[1]; }
    else return eva_fail(EVA_ERR_SHAPE, "%s: expected a 1-D or 2-D array, got %d dimensions", what, nd);
    *data_offset = pre + hl;
    return EVA_OK;
}

/* ---------------------------------------------------------------- reader */

eva_status eva_npy_read_f32(const char *path, eva_npy_array *out) {
    memset(out, 0, sizeof *out);
    eva_mapped_file mf;
    eva_status st = eva_map_file(path, &mf);
    if (st != EVA_OK) return st;
    int64_t r, c;
    size_t off;
    st = eva_npy_parse_header(mf.data, mf.size, path, &r, &c, &off);
    size_t n, bytes;
    if (st == EVA_OK && (!eva_size_mul((size_t)r, (size_t)c, &n) || !eva_size_mul(n, 4, &bytes) || bytes > mf.size - off))
        st = eva_fail(EVA_ERR_FORMAT, "%s: .npy data truncated (header says %" PRId64 "x%" PRId64 ")", path, r, c);
    if (st == EVA_OK) {
        out->data = eva_malloc(bytes);
        if (!out->data) st = EVA_ERR_NOMEM;
        else {
            memcpy(out->data, mf.data + off, bytes);
            out->rows = r;
            out->cols = c;
        }
    }
    eva_unmap_file(&mf);
    return st;
}

void eva_npy_array_free(eva_npy_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- writer */

static void writer_free(eva_npy_writer *w) {
    if (w->fp) fclose(w->fp);
    free(w->path);
    free(w->partial);
    free(w);
}

static eva_status write_header(eva_npy_writer *w) {
    char buf[256];
    size_t n = eva_npy_header(w->rows, w->cols, buf, sizeof buf);
    if (n != w->header_size) return eva_fail(EVA_ERR_INTERNAL, "%s: .npy header size changed", w->partial);
    if (fseeko(w->fp, 0, SEEK_SET) != 0 || fwrite(buf, 1, n, w->fp) != n || fseeko(w->fp, 0, SEEK_END) != 0)
        return eva_fail(EVA_ERR_IO, "%s: write failed: %s", w->partial, strerror(errno));
    return EVA_OK;
}

/* Continue an existing file: check its header, cut a torn last row, position at the end. */
static eva_status resume_file(eva_npy_writer *w) {
    eva_mapped_file mf;
    eva_status st = eva_map_file(w->partial, &mf);
    if (st != EVA_OK) return st;
    int64_t r, c;
    size_t off;
    st = eva_npy_parse_header(mf.data, mf.size, w->partial, &r, &c, &off);
    size_t size = mf.size;
    eva_unmap_file(&mf);
    if (st != EVA_OK) return st;
    if (c != w->cols)
        return eva_fail(EVA_ERR_SHAPE, "%s: cannot resume: file has %" PRId64 " columns, expected %" PRId64, w->partial, c, w->cols);
    if (off != w->header_size) return eva_fail(EVA_ERR_FORMAT, "%s: cannot resume: unexpected header size", w->partial);
    /* Rows from the file size: the header count may be stale after a crash. */
    const size_t row_bytes = (size_t)w->cols * 4;
    w->rows = row_bytes ? (int64_t)((size - off) / row_bytes) : r;
    if (truncate(w->partial, (off_t)(off + (size_t)w->rows * row_bytes)) != 0)
        return eva_fail(EVA_ERR_IO, "%s: cannot truncate: %s", w->partial, strerror(errno));
    w->fp = fopen(w->partial, "r+b");
    if (!w->fp) return eva_fail(EVA_ERR_IO, "%s: cannot open: %s", w->partial, strerror(errno));
    return write_header(w);
}

eva_status eva_npy_writer_open(const char *path, int64_t ncols, bool resume, eva_npy_writer **out) {
    *out = NULL;
    if (!path || ncols < 1 || ncols > (INT64_C(1) << 40))
        return eva_fail(EVA_ERR_INVALID_ARG, "npy writer: bad arguments (ncols %" PRId64 ")", ncols);
    eva_npy_writer *w = eva_calloc(1, sizeof *w);
    if (!w) return EVA_ERR_NOMEM;
    w->cols = ncols;
    w->path = eva_strdup(path);
    size_t n = strlen(path) + 9;
    w->partial = eva_malloc(n);
    char buf[256];
    w->header_size = eva_npy_header(0, ncols, buf, sizeof buf);
    if (!w->path || !w->partial || !w->header_size) {
        writer_free(w);
        return EVA_ERR_NOMEM;
    }
    snprintf(w->partial, n, "%s.partial", path);
    struct stat sb;
    eva_status st;
    if (resume && stat(w->partial, &sb) == 0) {
        st = resume_file(w);
    } else if (resume && stat(path, &sb) == 0) {
        if (rename(path, w->partial) != 0) st = eva_fail(EVA_ERR_IO, "%s: cannot reopen: %s", path, strerror(errno));
        else st = resume_file(w);
    } else {
        w->fp = fopen(w->partial, "wb");
        if (!w->fp) st = eva_fail(EVA_ERR_IO, "%s: cannot write: %s", w->partial, strerror(errno));
        else st = write_header(w);
    }
    if (st != EVA_OK) {
        writer_free(w);
        return st;
    }
    *out = w;
    return EVA_OK;
}

int64_t eva_npy_writer_rows(const eva_npy_writer *w) { return w ? w->rows : 0; }

eva_status eva_npy_writer_append(eva_npy_writer *w, const float *rows, int64_t nrows) {
    if (nrows < 0) return eva_fail(EVA_ERR_INVALID_ARG, "npy writer: negative row count");
    size_t n;
    if (!eva_size_mul((size_t)nrows, (size_t)w->cols, &n)) return eva_fail(EVA_ERR_INVALID_ARG, "npy writer: too many rows");
    /* .npy '<f4' is little-endian; x86-64 and aarch64 Linux are too. */
    if (n && fwrite(rows, sizeof(float), n, w->fp) != n)
        return eva_fail(EVA_ERR_IO, "%s: write failed: %s", w->partial, strerror(errno));
    w->rows += nrows;
    return EVA_OK;
}

eva_status eva_npy_writer_flush(eva_npy_writer *w) {
    eva_status st = write_header(w);
    if (st == EVA_OK && fflush(w->fp) != 0) st = eva_fail(EVA_ERR_IO, "%s: write failed: %s", w->partial, strerror(errno));
    return st;
}

eva_status eva_npy_writer_close(eva_npy_writer *w) {
    if (!w) return EVA_OK;
    eva_status st = eva_npy_writer_flush(w);
    if (st == EVA_OK && fsync(fileno(w->fp)) != 0) st = eva_fail(EVA_ERR_IO, "%s: fsync failed: %s", w->partial, strerror(errno));
    if (fclose(w->fp) != 0 && st == EVA_OK) st = eva_fail(EVA_ERR_IO, "%s: close failed: %s", w->partial, strerror(errno));
    w->fp = NULL;
    if (st == EVA_OK && rename(w->partial, w->path) != 0)
        st = eva_fail(EVA_ERR_IO, "%s: rename failed: %s", w->path, strerror(errno));
    writer_free(w);
    return st;
}

void eva_npy_writer_abandon(eva_npy_writer *w) {
    if (!w) return;
    (void)eva_npy_writer_flush(w);
    writer_free(w);
}
