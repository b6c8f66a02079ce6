/* npy.h — NumPy .npy files of float32 rows: a streaming writer (append rows, resume after an
 * interruption) and a reader for 2-D float32 arrays.
 *
 * Format (NumPy format v1.0): "\x93NUMPY" 0x01 0x00, uint16 LE header length, then an ASCII
 * dict "{'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }" padded with spaces and a
 * final '\n' so that the data starts at a multiple of 64 bytes. Like numpy.save (>= 1.23) we
 * leave 21 - len(str(R)) spare spaces after the dict, so the header has the same size for any
 * row count and can be rewritten in place: our headers are byte-identical to numpy.save's.
 *
 * Writer life cycle: rows go to "<path>.partial"; the header's row count is rewritten on every
 * flush and at close, then the file is fsync'ed and renamed to <path>. With resume = true an
 * existing "<path>.partial" (or a finished <path>) with the same column count is continued after
 * its last complete row (a torn final row is cut off). */
#ifndef EVA_IO_NPY_H
#define EVA_IO_NPY_H

#include "base/base.h"

typedef struct eva_npy_writer eva_npy_writer;

eva_status eva_npy_writer_open(const char *path, int64_t ncols, bool resume, eva_npy_writer **out);
/* Rows already in the file (resumed ones included). */
int64_t eva_npy_writer_rows(const eva_npy_writer *w);
/* rows: [nrows, ncols] float32, C order. */
eva_status eva_npy_writer_append(eva_npy_writer *w, const float *rows, int64_t nrows);
/* Rewrite the header with the current row count and flush to the OS (crash-resumable point). */
eva_status eva_npy_writer_flush(eva_npy_writer *w);
/* Final header, fsync, rename "<path>.partial" -> path, free. Frees w even on failure. */
eva_status eva_npy_writer_close(eva_npy_writer *w);
/* Stop without finishing: keeps "<path>.partial" (resumable) with an up-to-date header; frees w. */
void eva_npy_writer_abandon(eva_npy_writer *w);

/* The exact header numpy.save writes for a float32 C-order array of shape (rows, cols).
 * Writes up to cap bytes into buf; returns the header size (a multiple of 64) or 0 on error. */
size_t eva_npy_header(int64_t rows, int64_t cols, char *buf, size_t cap);

/* Parse a .npy header: float32 little-endian, C order, 1-D (rows = 1) or 2-D. */
eva_status eva_npy_parse_header(const uint8_t *data, size_t size, const char *what,
                                int64_t *rows, int64_t *cols, size_t *data_offset);

typedef struct eva_npy_array {
    int64_t rows, cols;
    float *data;            /* [rows, cols]; free with eva_npy_array_free */
} eva_npy_array;

eva_status eva_npy_read_f32(const char *path, eva_npy_array *out);
void eva_npy_array_free(eva_npy_array *a);

#endif
