/* pt_zip.c — a minimal, paranoid zip reader for torch.save archives.
 *
 * Layout read (APPNOTE 6.3): the End Of Central Directory record (EOCD, last 22..65557 bytes),
 * optionally the ZIP64 EOCD locator + record (archives > 4 GB or > 65535 entries), the central
 * directory (one 46-byte record + name/extra/comment per entry, ZIP64 extra field id 0x0001),
 * and each entry's 30-byte local header followed by its data. Sizes come from the central
 * directory (local headers may defer them to a data descriptor).
 * Stored entries are handed out in place (zero-copy from the mapping); deflated entries are
 * inflated into a block of exactly the declared size, never more. */
#include "io/pt_internal.h"

#include <stdlib.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* [off, off+len) inside [0, limit)? Overflow-safe. */
static bool in_range(uint64_t off, uint64_t len, uint64_t limit) { return off <= limit && len <= limit - off; }

void eva_zip_free(eva_zip *z) {
    if (!z) return;
    for (int i = 0; i < z->count; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->sorted);
    memset(z, 0, sizeof *z);
}

/* Find the EOCD: the last signature whose comment length reaches exactly the end of the file
 * (a stray signature inside the comment is then skipped), else the last signature found. */
static int64_t find_eocd(const uint8_t *d, size_t size) {
    if (size < 22) return -1;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    int64_t fallback = -1;
    for (size_t p = size - 22 + 1; p-- > lo;) {
        if (rd32(d + p) != SIG_EOCD) continue;
        if (p + 22 + rd16(d + p + 20) == size) return (int64_t)p;
        if (fallback < 0) fallback = (int64_t)p;
    }
    return fallback;
}

/* Read the ZIP64 extra field (id 1) of a central record: replaces the fields that are saturated. */
static eva_status read_zip64_extra(const uint8_t *ex, size_t exlen, uint64_t *usize, uint64_t *csize, uint64_t *off,
                                   const char *what, const char *name) {
    bool need_u = *usize == 0xFFFFFFFFu, need_c = *csize == 0xFFFFFFFFu, need_o = *off == 0xFFFFFFFFu;
    if (!need_u && !need_c && !need_o) return EVA_OK;
    size_t p = 0;
    while (p + 4 <= exlen) {
        uint16_t id = rd16(ex + p), n = rd16(ex + p + 2);
        if (n > exlen - p - 4) break;
        if (id == 1) {
            const uint8_t *f = ex + p + 4;
            size_t k = 0;
            if (need_u) { if (k + 8 > n) goto bad; *usize = rd64(f + k); k += 8; }
            if (need_c) { if (k + 8 > n) goto bad; *csize = rd64(f + k); k += 8; }
            if (need_o) { if (k + 8 > n) goto bad; *off = rd64(f + k); k += 8; }
            return EVA_OK;
        }
        p += 4 + (size_t)n;
    }
bad:
    return eva_fail(EVA_ERR_FORMAT, "%s: zip entry '%s': ZIP64 sizes missing or truncated", what, name);
}

static int cmp_by_offset(const void *a, const void *b, void *ctx) {
    const eva_zip_entry *e = ctx;
    uint64_t x = e[*(const int *)a].header_offset, y = e[*(const int *)b].header_offset;
    return x < y ? -1 : x > y;
}

static int cmp_by_name(const void *a, const void *b, void *ctx) {
    const eva_zip_entry *e = ctx;
    return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}

eva_status eva_zip_open(const uint8_t *d, size_t size, const char *what, eva_zip *z) {
    memset(z, 0, sizeof *z);
    z->data = d;
    z->size = size;
    int64_t eocd = find_eocd(d, size);
    if (eocd < 0) return eva_fail(EVA_ERR_FORMAT, "%s: not a zip archive (no end-of-central-directory record)", what);
    const uint8_t *e = d + eocd;
    uint64_t n_entries = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0) return eva_fail(EVA_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", what);
    uint64_t cd_limit = (uint64_t)eocd;   /* the central directory ends before the EOCD (records) */
    if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        /* ZIP64: the locator sits right before the EOCD and points at the ZIP64 EOCD record. */
        if (eocd < 20 || rd32(d + eocd - 20) != SIG_LOC64)
            return eva_fail(EVA_ERR_FORMAT, "%s: zip64 archive without a zip64 locator", what);
        uint64_t rec = rd64(d + eocd - 20 + 8);
        if (!in_range(rec, 56, (uint64_t)eocd - 20) || rd32(d + rec) != SIG_EOCD64)
            return eva_fail(EVA_ERR_FORMAT, "%s: zip64 end-of-central-directory record missing or out of range", what);
        n_entries = rd64(d + rec + 32);
        cd_size = rd64(d + rec + 40);
        cd_off = rd64(d + rec + 48);
        cd_limit = rec;
    }
    if (!in_range(cd_off, cd_size, cd_limit))
        return eva_fail(EVA_ERR_FORMAT, "%s: zip central directory (offset %llu, %llu bytes) lies outside the file", what,
                        (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (n_entries > EVA_ZIP_MAX_ENTRIES || n_entries * 46 > cd_size)
        return eva_fail(EVA_ERR_FORMAT, "%s: zip declares %llu entries in a %llu-byte central directory", what,
                        (unsigned long long)n_entries, (unsigned long long)cd_size);
    if (n_entries == 0) return eva_fail(EVA_ERR_FORMAT, "%s: empty zip archive", what);
    z->entries = eva_calloc((size_t)n_entries, sizeof *z->entries);
    z->sorted = eva_calloc((size_t)n_entries, sizeof *z->sorted);
    if (!z->entries || !z->sorted) {
        eva_zip_free(z);
        return EVA_ERR_NOMEM;
    }
    eva_status st = EVA_OK;
    uint64_t p = cd_off, cd_end = cd_off + cd_size;
    for (uint64_t i = 0; i < n_entries; i++) {
        if (!in_range(p, 46, cd_end) || rd32(d + p) != SIG_CENTRAL) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip central directory record %llu is corrupt", what, (unsigned long long)i);
            goto fail;
        }
        const uint8_t *c = d + p;
        uint16_t flags = rd16(c + 8), method = rd16(c + 10);
        uint32_t crc = rd32(c + 16);
        uint64_t csize = rd32(c + 20), usize = rd32(c + 24), hoff = rd32(c + 42);
        size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        if (!in_range(p + 46, (uint64_t)nlen + xlen + clen, cd_end)) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip central directory record %llu is truncated", what, (unsigned long long)i);
            goto fail;
        }
        eva_zip_entry *en = &z->entries[z->count];
        en->name = eva_malloc(nlen + 1);
        if (!en->name) { st = EVA_ERR_NOMEM; goto fail; }
        memcpy(en->name, c + 46, nlen);
        en->name[nlen] = 0;
        z->count++;
        if (memchr(en->name, 0, nlen)) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entry name contains a NUL byte", what);
            goto fail;
        }
        if ((st = read_zip64_extra(c + 46 + nlen, xlen, &usize, &csize, &hoff, what, en->name)) != EVA_OK) goto fail;
        if (flags & 1) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: zip entry '%s' is encrypted", what, en->name);
            goto fail;
        }
        if (method != 0 && method != 8) {
            st = eva_fail(EVA_ERR_UNSUPPORTED, "%s: zip entry '%s' uses compression method %u (only stored and deflate are supported)",
                          what, en->name, method);
            goto fail;
        }
        if (method == 0 && csize != usize) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: stored zip entry '%s' has %llu bytes but declares %llu", what, en->name,
                          (unsigned long long)csize, (unsigned long long)usize);
            goto fail;
        }
        if (method == 8 && (usize > (csize + 64) * (uint64_t)EVA_ZIP_MAX_RATIO || usize > ((uint64_t)1 << 46))) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: deflated zip entry '%s' declares %llu bytes from %llu (ratio beyond what deflate can do: zip bomb?)",
                          what, en->name, (unsigned long long)usize, (unsigned long long)csize);
            goto fail;
        }
        /* The local header repeats the name; its own extra field length decides where data starts. */
        if (!in_range(hoff, 30, cd_off) || rd32(d + hoff) != SIG_LOCAL) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entry '%s': local header at %llu is missing or outside the file", what, en->name,
                          (unsigned long long)hoff);
            goto fail;
        }
        uint64_t lnlen = rd16(d + hoff + 26), lxlen = rd16(d + hoff + 28);
        if (lnlen != nlen || !in_range(hoff + 30, lnlen, cd_off) || memcmp(d + hoff + 30, en->name, nlen) != 0) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entry '%s': local header name does not match the central directory", what, en->name);
            goto fail;
        }
        uint64_t doff = hoff + 30 + lnlen + lxlen;
        if (!in_range(doff, csize, cd_off)) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entry '%s' (%llu bytes at %llu) runs past the central directory / end of file", what,
                          en->name, (unsigned long long)csize, (unsigned long long)doff);
            goto fail;
        }
        en->header_offset = hoff;
        en->data_offset = doff;
        en->csize = csize;
        en->usize = usize;
        en->crc32 = crc;
        en->method = method;
        p += 46 + nlen + xlen + clen;
    }
    /* Bomb by many entries: each within deflate's ratio, together far beyond any checkpoint
     * (real weights barely compress; 256x covers even all-zero buffers in a mostly-real file). */
    uint64_t inflated = 0;
    for (int i = 0; i < z->count; i++)
        if (z->entries[i].method == 8) inflated += z->entries[i].usize;   /* each < 2^46: no overflow */
    if (inflated > (uint64_t)size * 256 + ((uint64_t)64 << 20)) {
        st = eva_fail(EVA_ERR_FORMAT, "%s: deflated zip entries declare %llu bytes in a %zu-byte file (zip bomb?)", what,
                      (unsigned long long)inflated, size);
        goto fail;
    }
    /* No two entries may share bytes (overlapping entries are the "zip bomb by overlap" trick). */
    for (int i = 0; i < z->count; i++) z->sorted[i] = i;
    qsort_r(z->sorted, (size_t)z->count, sizeof(int), cmp_by_offset, z->entries);
    for (int k = 1; k < z->count; k++) {
        const eva_zip_entry *a = &z->entries[z->sorted[k - 1]], *b = &z->entries[z->sorted[k]];
        if (a->data_offset + a->csize > b->header_offset) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entries '%s' and '%s' overlap", what, a->name, b->name);
            goto fail;
        }
    }
    for (int i = 0; i < z->count; i++) z->sorted[i] = i;
    qsort_r(z->sorted, (size_t)z->count, sizeof(int), cmp_by_name, z->entries);
    for (int k = 1; k < z->count; k++)
        if (strcmp(z->entries[z->sorted[k - 1]].name, z->entries[z->sorted[k]].name) == 0) {
            st = eva_fail(EVA_ERR_FORMAT, "%s: zip entry '%s' appears twice", what, z->entries[z->sorted[k]].name);
            goto fail;
        }
    return EVA_OK;
fail:
    eva_zip_free(z);
    return st;
}

int eva_zip_find(const eva_zip *z, const char *name) {
    int lo = 0, hi = z->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(z->entries[z->sorted[mid]].name, name);
        if (c == 0) return z->sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

eva_status eva_zip_read(const eva_zip *z, int i, const uint8_t **bytes, size_t *len, void **owned) {
    *owned = NULL;
    *bytes = NULL;
    *len = 0;
    if (i < 0 || i >= z->count) return eva_fail(EVA_ERR_INTERNAL, "zip entry index %d out of range", i);
    const eva_zip_entry *e = &z->entries[i];
    if (e->method == 0) {
        *bytes = z->data + e->data_offset;
        *len = (size_t)e->usize;
        return EVA_OK;
    }
    if (e->usize > SIZE_MAX - 64)
        return eva_fail(EVA_ERR_NOMEM, "zip entry '%s' is too large to inflate", e->name);
    /* Output capped at the declared size: zlib cannot write past avail_out, and an entry that
     * wants more (or ends short) is rejected. */
    uint8_t *out = eva_aligned_alloc(e->usize ? (size_t)e->usize : 1);
    if (!out) return EVA_ERR_NOMEM;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        eva_aligned_free(out);
        return eva_fail(EVA_ERR_NOMEM, "zip entry '%s': cannot initialise zlib", e->name);
    }
    const uint8_t *src = z->data + e->data_offset;
    uint64_t src_left = e->csize, dst_given = 0;
    uint8_t probe[1];
    bool probing = false;   /* the declared size is filled: any further byte means a lie */
    int zr;
    for (;;) {
        /* avail_in/avail_out are 32-bit: feed and drain in chunks of at most 1 GiB. */
        if (zs.avail_in == 0 && src_left) {
            uInt n = (uInt)EVA_MIN(src_left, (uint64_t)1 << 30);
            zs.next_in = (Bytef *)src;
            zs.avail_in = n;
            src += n;
            src_left -= n;
        }
        if (zs.avail_out == 0 && !probing) {
            if (dst_given < e->usize) {
                uInt n = (uInt)EVA_MIN(e->usize - dst_given, (uint64_t)1 << 30);
                zs.next_out = out + dst_given;
                zs.avail_out = n;
                dst_given += n;
            } else {
                probing = true;
                zs.next_out = probe;
                zs.avail_out = 1;
            }
        }
        zr = inflate(&zs, Z_NO_FLUSH);
        if (probing && zs.avail_out == 0) {
            inflateEnd(&zs);
            eva_aligned_free(out);
            return eva_fail(EVA_ERR_FORMAT, "zip entry '%s' inflates to more than its declared %llu bytes (zip bomb?)", e->name,
                            (unsigned long long)e->usize);
        }
        if (zr == Z_STREAM_END) break;
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && src_left == 0) break;   /* input ran out */
        if (zr != Z_OK && zr != Z_BUF_ERROR) break;
    }
    if (probing) zs.avail_out = 0;   /* the probe byte was never written */
    uint64_t produced = dst_given - zs.avail_out;
    inflateEnd(&zs);
    if (zr != Z_STREAM_END || produced != e->usize) {
        eva_aligned_free(out);
        return eva_fail(EVA_ERR_FORMAT, "zip entry '%s': corrupt deflate data (%llu of %llu bytes inflated)", e->name,
                        (unsigned long long)produced, (unsigned long long)e->usize);
    }
    uint32_t crc = 0;
    for (uint64_t k = 0; k < e->usize;) {
        uInt n = (uInt)EVA_MIN(e->usize - k, (uint64_t)1 << 30);
        crc = (uint32_t)crc32(crc, out + k, n);
        k += n;
    }
    if (crc != e->crc32) {
        eva_aligned_free(out);
        return eva_fail(EVA_ERR_FORMAT, "zip entry '%s': CRC mismatch after inflate", e->name);
    }
    *bytes = out;
    *len = (size_t)e->usize;
    *owned = out;
    return EVA_OK;
}
