/*
 * vault/str.h — a bounded string copy for the hot paths (what snprintf(dst, cap, "%s", src) does,
 * without a format parser: ~600 instructions a call there, a few dozen here).
 */
#ifndef KLUIS_STR_H
#define KLUIS_STR_H

#include <stddef.h>
#include <string.h>

/**
 * @brief Copy SRC into DST of CAP bytes (CAP > 0), cut to CAP - 1 bytes, always NUL-terminated;
 *        a NULL SRC copies "".
 * @return strlen(SRC), like snprintf: a result >= CAP means SRC was cut.
 */
static inline size_t str_copy(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src), k = n < cap ? n : cap - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

#endif
