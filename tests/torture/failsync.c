/*
 * tests/torture/failsync.c — an LD_PRELOAD shim that makes the disk fail under kluisd (issue 8
 * row 4). Built by tests/api/test_faults.c (cc -shared -fPIC); never linked into Kluis.
 *
 * It wraps fsync, fdatasync, pwrite, pwritev and write. While the file named by FAILSYNC_FLAG
 * exists (or once FAILSYNC_AFTER calls of a wrapped kind have been let through), each call named in
 * FAILSYNC_CALLS (a comma list, default "fsync,fdatasync") on a file whose name ends in "data.mdb"
 * fails with EIO and writes nothing. With FAILSYNC_DELAY_MS set, such a call does not fail but
 * first sleeps that many milliseconds (a slow disk: tests/api/test_deadline.c). Every other call
 * goes straight to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long calls;

static int on_data_file(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 8)
        return 0;
    path[n] = 0;
    return strcmp(path + n - 8, "data.mdb") == 0;
}

static int named(const char *call)
{
    const char *list = getenv("FAILSYNC_CALLS");
    if (!list)
        list = "fsync,fdatasync";
    size_t n = strlen(call);
    for (const char *p = list; (p = strstr(p, call)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

/* Whether this call (of kind CALL on FD) must fail. */
static int fail_now(const char *call, int fd)
{
    if (!named(call) || !on_data_file(fd))
        return 0;
    const char *flag = getenv("FAILSYNC_FLAG"), *after = getenv("FAILSYNC_AFTER");
    long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    int hit = (after && *after && n > atol(after)) || (flag && *flag && access(flag, F_OK) == 0);
    const char *delay = getenv("FAILSYNC_DELAY_MS");
    if (hit && delay && *delay) {
        long ms = atol(delay);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        return 0;
    }
    return hit;
}

#define REAL(name)                                                                                             \
    static __typeof__(&name) real_##name;                                                                      \
    if (!real_##name)                                                                                          \
    real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int fsync(int fd)
{
    REAL(fsync);
    if (fail_now("fsync", fd))
        return errno = EIO, -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (fail_now("fdatasync", fd))
        return errno = EIO, -1;
    return real_fdatasync(fd);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    if (fail_now("pwrite", fd))
        return errno = EIO, -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    if (fail_now("pwrite", fd))
        return errno = EIO, -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev);
    if (fail_now("pwritev", fd))
        return errno = EIO, -1;
    return real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev64);
    if (fail_now("pwritev", fd))
        return errno = EIO, -1;
    return real_pwritev64(fd, iov, cnt, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (fail_now("write", fd))
        return errno = EIO, -1;
    return real_write(fd, buf, n);
}
