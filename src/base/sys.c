/* sys.c — timing, peak RSS, read-only file mapping and atomic (temp + rename) output. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double eva_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t eva_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}

eva_status eva_map_file(const char *path, eva_mapped_file *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return eva_fail(EVA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return eva_fail(EVA_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return eva_fail(EVA_ERR_IO, "%s: is a directory", path);
    }
    if (st.st_size == 0) {
        close(fd);
        out->data = (const uint8_t *)"";
        out->size = 0;
        out->mapped = false;
        return EVA_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return eva_fail(EVA_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    /* checkpoints are streamed through the GEMMs: huge pages spare the TLB (read-ahead then
       fills the page cache in 2 MB folios where the filesystem supports them) */
    eva_advise_hugepages(p, (size_t)st.st_size);
    out->data = p;
    out->size = (size_t)st.st_size;
    out->mapped = true;
    return EVA_OK;
}

void eva_release_file_pages(const eva_mapped_file *mf, const void *p, size_t n) {
    if (!mf || !mf->mapped || !p || n == 0) return;
    uintptr_t lo = (uintptr_t)mf->data, hi = lo + mf->size, a = (uintptr_t)p;
    if (a < lo || a > hi || n > hi - a) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t start = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1), end = (a + n) & ~((uintptr_t)page - 1);
#ifdef MADV_DONTNEED
    if (end > start) (void)madvise((void *)start, end - start, MADV_DONTNEED);   /* a refusal changes nothing */
#else
    (void)start;
    (void)end;
#endif
}

void eva_unmap_file(eva_mapped_file *mf) {
    if (mf->mapped && mf->data) munmap((void *)mf->data, mf->size);
    memset(mf, 0, sizeof *mf);
}

eva_status eva_atomic_open(eva_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 48;
    af->temp_path = eva_malloc(n);
    af->final_path = eva_strdup(path);
    if (!af->temp_path || !af->final_path) {
        free(af->temp_path); free(af->final_path);
        return EVA_ERR_NOMEM;
    }
    snprintf(af->temp_path, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(af->temp_path, "wb");
    if (!fp) {
        eva_status st = eva_fail(EVA_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(af->temp_path); free(af->final_path);
        memset(af, 0, sizeof *af);
        return st;
    }
    af->fp = fp;
    return EVA_OK;
}

/* Fault injection for tests: EVA_FAULT_WRITE_BYTES=N makes atomic writes fail with ENOSPC once
 * N bytes have been written by this process, as on a full disk. */
static long long fault_budget(void) {
    static long long budget = -2;
    if (budget == -2) {
        const char *v = getenv("EVA_FAULT_WRITE_BYTES");
        budget = v && *v ? atoll(v) : -1;
    }
    return budget;
}

eva_status eva_atomic_write(eva_atomic_file *af, const void *data, size_t n) {
    static long long written;
    long long budget = fault_budget();
    if (budget >= 0) {
        written += (long long)n;
        if (written > budget) return eva_fail(EVA_ERR_IO, "%s: write failed: %s", af->final_path, strerror(ENOSPC));
    }
    if (n && fwrite(data, 1, n, (FILE *)af->fp) != n)
        return eva_fail(EVA_ERR_IO, "%s: write failed: %s", af->final_path, strerror(errno));
    return EVA_OK;
}

eva_status eva_atomic_commit(eva_atomic_file *af) {
    FILE *fp = af->fp;
    eva_status st = EVA_OK;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        st = eva_fail(EVA_ERR_IO, "%s: write failed: %s", af->final_path, strerror(errno));
    if (fclose(fp) != 0 && st == EVA_OK)
        st = eva_fail(EVA_ERR_IO, "%s: close failed: %s", af->final_path, strerror(errno));
    af->fp = NULL;
    if (st == EVA_OK && rename(af->temp_path, af->final_path) != 0)
        st = eva_fail(EVA_ERR_IO, "%s: rename failed: %s", af->final_path, strerror(errno));
    if (st != EVA_OK) remove(af->temp_path);
    free(af->temp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
    return st;
}

void eva_atomic_abort(eva_atomic_file *af) {
    if (af->fp) fclose((FILE *)af->fp);
    if (af->temp_path) remove(af->temp_path);
    free(af->temp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
}
