/*
 * tests/api/load.h — helpers shared by the load, flood and malformed-input tests (and the journal's
 * memory test): a process's resident memory and open descriptors from /proc, raw sockets from a
 * chosen loopback source address (so a test can play many clients: Linux routes all of
 * 127.0.0.0/8 to lo), latency percentiles, and a signed, encrypted entry body as a real client
 * builds it.
 */
#ifndef KLUIS_TESTS_LOAD_H
#define KLUIS_TESTS_LOAD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kc_citizen;
struct kluis_keys;

/* Memory bounds in the tests allow for AddressSanitizer's quarantine (freed memory it keeps, 256 MiB
 * by default) in the sanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#define LOAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOAD_ASAN 1
#endif
#endif
#ifdef LOAD_ASAN
#define LOAD_RSS_SLACK_KB (512L * 1024)
#else
#define LOAD_RSS_SLACK_KB 0L
#endif

/** @brief VmRSS of PID in KiB, from /proc/PID/status. @return the value, or -1. */
long proc_rss_kb(pid_t pid);

/** @brief A "NAME: <n> kB" field of /proc/PID/status (e.g. "RssAnon") in KiB, or -1. */
long proc_status_kb(pid_t pid, const char *name);

/** @brief The number of open descriptors of PID (entries of /proc/PID/fd). @return it, or -1. */
long proc_fd_count(pid_t pid);

/**
 * @brief A TCP connection to 127.0.0.1:PORT from source address SRC ("127.0.0.N"; NULL: any),
 *        non-blocking when NONBLOCK (the connect may still be in progress then).
 * @return the socket, or -1.
 */
int load_connect(const char *src, unsigned int port, int nonblock);

/** @brief Monotonic time in microseconds. */
int64_t load_now_us(void);

/** @brief The P-th percentile (0..100) of N samples (sorted in place). 0 when N is 0. */
int64_t load_percentile(int64_t *v, size_t n, double p);

/**
 * @brief The body of POST .../sections/SECTION/entries for CZ: a note encrypted under the DEK of
 *        CZ's SECTION (epoch CZ->epoch[..]), an `entry` statement with id ID signed by SIGNER's
 *        secret key SK, issued at NOW. @return a new object, or NULL.
 */
json_t *load_entry_body(const struct kc_citizen *cz, const char *section, const char *id,
                        const char *signer, const unsigned char *sk, int64_t now);

/**
 * @brief The usual load-test fixture on the kluisd at PORT: log the admin (keys ADMIN) in, into
 *        ADMIN_TOK (KC_TOKEN_MAX bytes), enrol citizen "burger-1" and post its first entry "e-first"
 *        in "plan". @return the citizen (kc_citizen_free()), or NULL when any step failed.
 */
struct kc_citizen *load_first_citizen(unsigned int port, const struct kluis_keys *admin, char *admin_tok);

#endif
