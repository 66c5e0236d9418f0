/*
 * bench/pages.c — which LMDB pages a commit writes: an LD_PRELOAD shim for kluisd, used by
 * `bench/run.sh pages` (docs/performance.md, "Fourth pass"). Built there (cc -shared -fPIC); never
 * linked into Kluis.
 *
 * A group commit's cost on this kind of disk is set by how many distinct pages it writes (about
 * 11 µs each for scattered ones), so this counts them. It wraps pwrite, pwrite64, writev and
 * pwritev (LMDB writes one page with pwrite, a run of adjacent dirty pages with writev/pwritev) and
 * fdatasync/fsync (one per commit) on data.mdb only, and sorts every 4 KiB page written by its
 * LMDB page header and first key:
 *   - meta: the meta page (once per commit, through LMDB's O_DSYNC descriptor: a flush of its own)
 *   - journal branch / journal leaf: a first key shaped like a journal key (vault/journal.h:
 *     format 3 'T' || be64(g) for events, 'S' || id16 for heads; format 2 'J' || 16-byte hash ||
 *     seq, then || 0xFF for a head; format 1: 'E' || 32-byte hash || ...); of the leaves, those
 *     whose first key is a head (format 3: the checkpoint rounds' 'S' pages)
 *   - other branch / other leaf, overflow (large values), and runs (calls that wrote >1 page)
 * At exit (kluisd's clean stop) it appends one summary line per category to the file PAGES_OUT
 * (default: standard error): totals and per commit. Contents are never printed: only the header
 * fields and the first key's tag byte and length are looked at.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096
#define MAXFD 1024

enum { C_META, C_JBRANCH, C_JLEAF, C_JHEADLEAF, C_BRANCH, C_LEAF, C_OVERFLOW, C_UNKNOWN, C_COUNT };
static const char *const cname[C_COUNT] = {"meta", "journal branch", "journal leaf", "  of it head first",
                                           "other branch", "other leaf", "overflow", "unknown"};
static uint64_t count[C_COUNT], commits, calls, runs, run_pages;
static signed char fd_kind[MAXFD]; /* 0 unknown, 1 data.mdb, -1 other */

static int on_data_file(int fd)
{
    if (fd < 0 || fd >= MAXFD)
        return 0;
    signed char k = __atomic_load_n(&fd_kind[fd], __ATOMIC_RELAXED);
    if (k == 0) {
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        k = (n >= 8 && memcmp(path + n - 8, "data.mdb", 8) == 0) ? 1 : -1;
        __atomic_store_n(&fd_kind[fd], k, __ATOMIC_RELAXED);
    }
    return k == 1;
}

static unsigned u16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* Whether the first key of page P (a branch's first node has an empty key: take the second) looks
 * like a journal key: 1 for an event key ('T' || be64(g); format 2 'J' || id16 || seq, format 1
 * 'E' ...), 2 for a head key ('S' || id16; format 2 'J' || id16 || seq || 0xFF, format 1 'E' ...). */
static int journal_first_key(const unsigned char *p, int branch)
{
    unsigned lower = u16(p + 12), n = lower >= 16 ? (lower - 16) / 2 : 0;
    unsigned i = branch && n > 1 ? 1 : 0;
    if (n == 0)
        return 0;
    unsigned off = u16(p + 16 + 2 * i);
    if (off + 8 > PAGE)
        return 0;
    unsigned ks = u16(p + off + 6);
    if (off + 8 + ks > PAGE || ks == 0)
        return 0;
    unsigned char tag = p[off + 8];
    if ((tag == 'T' && ks == 9) || (tag == 'J' && ks == 25) || (tag == 'E' && ks == 41))
        return 1;
    return (tag == 'S' && ks == 17) || (tag == 'J' && (ks == 26 || ks == 18)) || (tag == 'E' && ks == 34) ? 2 : 0;
}

static void classify(const unsigned char *p)
{
    unsigned flags = u16(p + 10);
    int c = C_UNKNOWN;
    if (flags & 0x08)
        c = C_META;
    else if (flags & 0x04)
        c = C_OVERFLOW;
    else if (flags & 0x01)
        c = journal_first_key(p, 1) ? C_JBRANCH : C_BRANCH;
    else if (flags & 0x02) {
        int j = journal_first_key(p, 0);
        c = j ? C_JLEAF : C_LEAF;
        if (j == 2) /* counted in C_JLEAF too: the head opens the leaf, so the citizen's events
                     * end on the page before and each append writes both (performance.md) */
            __atomic_add_fetch(&count[C_JHEADLEAF], 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&count[c], 1, __ATOMIC_RELAXED);
}

/* Count the pages of one write call of LEN bytes in IOV. An overflow value spans several pages of
 * which only the first has a header: the rest are counted with it. */
static void count_write(const struct iovec *iov, int n)
{
    size_t pages = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *b = iov[i].iov_base;
        for (size_t off = 0; off + PAGE <= iov[i].iov_len; off += PAGE) {
            unsigned flags = u16(b + off + 10);
            if (flags & 0x04) { /* overflow: the header says how many pages follow */
                uint32_t np = (uint32_t)b[off + 12] | (uint32_t)b[off + 13] << 8 |
                              (uint32_t)b[off + 14] << 16 | (uint32_t)b[off + 15] << 24;
                __atomic_add_fetch(&count[C_OVERFLOW], 1, __ATOMIC_RELAXED);
                pages += np ? np : 1;
                off += (np ? np - 1 : 0) * (size_t)PAGE;
                continue;
            }
            classify(b + off);
            pages++;
        }
    }
    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    if (pages > 1) {
        __atomic_add_fetch(&runs, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&run_pages, pages, __ATOMIC_RELAXED);
    }
}

/* One pwrite: whole pages, or LMDB's meta page (it writes only the meta fields, at the start of
 * page 0 or 1, through its O_DSYNC descriptor). */
static void count_pwrite(const void *buf, size_t n, off_t off)
{
    if (n < PAGE) {
        if (off < 2 * PAGE)
            __atomic_add_fetch(&count[C_META], 1, __ATOMIC_RELAXED);
        return;
    }
    struct iovec v = {(void *)buf, n};
    count_write(&v, 1);
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*sync_fn)(int);

static pwrite_fn real_pwrite, real_pwrite64;
static writev_fn real_writev;
static pwritev_fn real_pwritev;
static sync_fn real_fdatasync, real_fsync;

/* libc's definitions, looked up before main() (kluisd writes nothing before it). */
__attribute__((constructor)) static void find_real(void)
{
    real_pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    real_writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
    real_pwritev = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev");
    real_fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (on_data_file(fd))
        count_pwrite(buf, n, off);
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (on_data_file(fd))
        count_pwrite(buf, n, off);
    return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    if (on_data_file(fd))
        count_write(iov, n);
    return real_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    if (on_data_file(fd))
        count_write(iov, n);
    return real_pwritev(fd, iov, n, off);
}

int fdatasync(int fd)
{
    if (on_data_file(fd))
        __atomic_add_fetch(&commits, 1, __ATOMIC_RELAXED);
    return real_fdatasync(fd);
}

int fsync(int fd)
{
    if (on_data_file(fd))
        __atomic_add_fetch(&commits, 1, __ATOMIC_RELAXED);
    return real_fsync(fd);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("PAGES_OUT");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    FILE *o = f ? f : stderr;
    uint64_t all = 0;
    double nc = commits ? (double)commits : 1;
    for (int c = 0; c < C_COUNT; c++)
        all += c == C_META || c == C_JHEADLEAF ? 0 : count[c];
    fprintf(o, "commits %llu\n", (unsigned long long)commits);
    for (int c = 0; c < C_COUNT; c++)
        fprintf(o, "%-16s %10llu %8.1f per commit\n", cname[c], (unsigned long long)count[c], count[c] / nc);
    fprintf(o, "%-16s %10llu %8.1f per commit (meta excluded)\n", "all pages", (unsigned long long)all, all / nc);
    fprintf(o, "%-16s %10llu %8.1f per commit (write calls)\n", "writes", (unsigned long long)calls, calls / nc);
    fprintf(o, "%-16s %10llu %8.1f per commit (calls of >1 adjacent page, %llu pages)\n", "runs",
            (unsigned long long)runs, runs / nc, (unsigned long long)run_pages);
    if (f)
        fclose(f);
}
