/*
 * vault/secret.c — guarded secret memory over sodium_malloc/sodium_free, and process hygiene.
 * sodium_malloc already places the buffer between guard pages, mlocks it and fills it with 0xdb;
 * we zero it so callers start from a known state. sodium_free wipes before unmapping.
 */
#include "vault/secret.h"

#include <sodium.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

void *secret_new(size_t n)
{
    if (n == 0)
        return NULL;
    void *p = sodium_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void secret_free(void *p)
{
    if (p)
        sodium_free(p);
}

int secret_init(int core_off)
{
    if (core_off) {
        struct rlimit rl = {0, 0};
        (void)setrlimit(RLIMIT_CORE, &rl);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    return sodium_init() < 0 ? -1 : 0;
}
