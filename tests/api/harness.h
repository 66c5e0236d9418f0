/*
 * tests/api/harness.h — a real kluisd for API tests: a fresh vault in a temporary directory, the
 * server started on 127.0.0.1 with an OS-chosen port, stopped with SIGTERM or killed with SIGKILL.
 * The kluisd binary is the one beside the test program (build/kluisd for build/tests/api_*, and
 * build/asan/kluisd for the sanitizer build).
 *
 * KLUIS_VALGRIND=DIR in the environment runs every kluisd under valgrind memcheck (leak check
 * full, error exit code 99, one log file per process in DIR): tests/valgrind.sh uses it.
 */
#ifndef KLUIS_TEST_HARNESS_H
#define KLUIS_TEST_HARNESS_H

#include <sys/types.h>

#include "vault/crypto.h"

struct kd {
    char tmp[256];        /* the temporary directory holding everything */
    char vault[320];      /* TMP/vault */
    char admin_pub[320], authority_pub[320], charter[4096];
    char kluisd[4096];
    struct kluis_keys *admin;       /* the admin's keys (id "beheer") */
    unsigned char authority_sk[32], authority_pk[32];
    pid_t pid;
    unsigned int port;
    char errlog[320];     /* when set (after kd_setup): kluisd's stderr is appended to this file */
    const char *serve_extra[9]; /* when set (after kd_setup): more `kluisd serve` arguments, NULL-ended */
};

/** @brief Make keys and run `kluisd init` with the example charter. @return 0 or -1. */
int kd_setup(struct kd *k);
/** @brief Run kluisd with ARGV (NULL-terminated, without the program name); its exit status. */
int kd_run(struct kd *k, const char *const *argv);
/** @brief Start `kluisd serve` and wait until it listens (K->port set). @return 0 or -1. */
int kd_start(struct kd *k);
/** @brief SIGTERM and wait. @return the exit status (0 for a clean stop), -1 on trouble. */
int kd_stop(struct kd *k);
/** @brief SIGKILL and reap. */
void kd_kill9(struct kd *k);
/** @brief Stop if running, remove the directory, free keys. */
void kd_cleanup(struct kd *k);

#endif
