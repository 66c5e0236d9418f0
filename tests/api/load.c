/* tests/api/load.c — see load.h. */
#include "tests/api/load.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/api/client.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/statement.h"

long proc_status_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    long kb = -1;
    size_t nl = strlen(name);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, nl) && line[nl] == ':' && sscanf(line + nl + 1, " %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

long proc_rss_kb(pid_t pid)
{
    return proc_status_kb(pid, "VmRSS");
}

long proc_fd_count(pid_t pid)
{
    char path[64];
    long n = 0;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int load_connect(const char *src, unsigned int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src, &a.sin_addr) != 1 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && !nonblock) {
        close(fd);
        return -1;
    }
    return fd;
}

int64_t load_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t load_percentile(int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

json_t *load_entry_body(const struct kc_citizen *cz, const char *section, const char *id,
                        const char *signer, const unsigned char *sk, int64_t now)
{
    size_t k = 0;
    while (k < cz->n && strcmp(cz->section[k], section) != 0)
        k++;
    if (k == cz->n)
        return NULL;
    char pt[160];
    snprintf(pt, sizeof pt, "{\"kind\":\"note\",\"title\":\"load\",\"body\":\"%s\"}", id);
    size_t ptlen = strlen(pt);
    unsigned char blob[sizeof pt + KLUIS_AEAD_OVERHEAD], h[32];
    if (kluis_entry_encrypt(blob, (const unsigned char *)pt, ptlen, cz->id, section, cz->epoch[k], id,
                            cz->dek[k]) != 0 ||
        kluis_blob_hash(h, blob, ptlen + KLUIS_AEAD_OVERHEAD) != 0)
        return NULL;
    json_t *st = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "entry", "id", id, "signer", signer,
                           "issued", (json_int_t)now, "citizen", cz->id, "section", section, "epoch",
                           (json_int_t)cz->epoch[k], "blob_hash", jb64(h, 32));
    json_t *env = NULL;
    struct jerr err;
    if (!st || kstmt_sign_json(&env, st, sk, &err) != 0)
        env = NULL;
    json_decref(st);
    if (env)
        json_object_set_new(env, "blob", jb64(blob, ptlen + KLUIS_AEAD_OVERHEAD));
    return env;
}

struct kc_citizen *load_first_citizen(unsigned int port, const struct kluis_keys *admin, char *admin_tok)
{
    struct kc_citizen *cz = NULL;
    if (kc_login(port, "beheer", admin, admin_tok, NULL) != 200 ||
        !(cz = kc_citizen_setup(port, admin_tok, "burger-1", "correct horse battery")))
        return NULL;
    json_t *e = load_entry_body(cz, "plan", "e-first", "burger-1", cz->keys->sign_sk, (int64_t)time(NULL));
    struct kc_resp r;
    int st = e ? kc_call(port, "POST", "/v1/citizens/burger-1/sections/plan/entries", cz->token, e, &r) : -1;
    json_decref(e);
    if (e)
        kc_resp_free(&r);
    if (st != 201) {
        kc_citizen_free(cz);
        return NULL;
    }
    return cz;
}
