/*
 * vault/secret.h — the one place secret memory comes from.
 *
 * Every secret key, seed, passphrase-derived key and plaintext key of Kluis lives in a buffer from
 * secret_new(): libsodium's guarded allocation (guard pages, canary, mlock where the OS allows),
 * wiped by secret_free(). Thread-safe; sodium_init() must have succeeded first.
 */
#ifndef KLUIS_SECRET_H
#define KLUIS_SECRET_H

#include <stddef.h>

/**
 * @brief Allocate N bytes of secret memory, zero-filled.
 * @param[in] n  size in bytes, > 0.
 * @return the buffer, or NULL when N is 0 or memory is exhausted. Free with secret_free().
 */
void *secret_new(size_t n) __attribute__((warn_unused_result, malloc));

/**
 * @brief Wipe and release a buffer from secret_new(). NULL is accepted and ignored.
 */
void secret_free(void *p);

/**
 * @brief Initialise libsodium and the process's secret hygiene (no core dumps when CORE_OFF).
 * @param[in] core_off  non-zero: set RLIMIT_CORE to 0 and PR_SET_DUMPABLE to 0 (kluisd, kluis).
 * @return 0, or -1 when libsodium cannot be initialised.
 */
int secret_init(int core_off) __attribute__((warn_unused_result));

#endif
