/* tests/api/harness.c — see harness.h. */
#include "tests/api/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vault/jspec.h"
#include "vault/keyfile.h"

static int find_kluisd(struct kd *k)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    /* build/tests/api_x → build/kluisd */
    snprintf(k->kluisd, sizeof k->kluisd, "%s/../kluisd", dirname(self));
    return access(k->kluisd, X_OK);
}

int kd_run(struct kd *k, const char *const *argv)
{
    const char *av[32];
    size_t n = 0;
    av[n++] = k->kluisd;
    for (; argv[n - 1] && n < 31; n++)
        av[n] = argv[n - 1];
    av[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(k->kluisd, (char *const *)av);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int kd_setup(struct kd *k)
{
    memset(k, 0, sizeof *k);
    k->pid = -1;
    snprintf(k->tmp, sizeof k->tmp, "/tmp/kluis-test-XXXXXX");
    if (!mkdtemp(k->tmp) || find_kluisd(k) != 0)
        return -1;
    snprintf(k->vault, sizeof k->vault, "%s/vault", k->tmp);
    snprintf(k->admin_pub, sizeof k->admin_pub, "%s/admin.pub", k->tmp);
    snprintf(k->authority_pub, sizeof k->authority_pub, "%s/authority.pub", k->tmp);
    const char *ch = getenv("KLUIS_CHARTER_EXAMPLE");
    if (ch)
        snprintf(k->charter, sizeof k->charter, "%s", ch);
    else if (!realpath("policy/charter.example.json", k->charter))
        return -1;
    k->admin = kluis_keys_new();
    struct jerr err;
    if (!k->admin || kluis_keys_generate(k->admin) != 0 || kluis_box_keypair(k->authority_pk, k->authority_sk) != 0 ||
        keyfile_write_public(k->admin_pub, "beheer", k->admin->sign_pk, k->admin->box_pk, &err) != 0 ||
        keyfile_write_authority_pub(k->authority_pub, k->authority_pk, &err) != 0)
        return -1;
    const char *argv[] = {"init", "--dir", k->vault, "--origin", "test.voorbeeldstad.nl/kluis", "--charter",
                          k->charter, "--admin-pub", k->admin_pub, "--authority-pub", k->authority_pub, NULL};
    return kd_run(k, argv) == 0 ? 0 : -1;
}

int kd_start(struct kd *k)
{
    char portfile[400];
    snprintf(portfile, sizeof portfile, "%s/port", k->tmp);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(k->kluisd, k->kluisd, "serve", "--dir", k->vault, "--listen", "127.0.0.1:0", "--port-file", portfile,
              (char *)NULL);
        _exit(127);
    }
    k->pid = pid;
    for (int i = 0; i < 200; i++) { /* up to 20 s (the sanitizer build starts slowly) */
        FILE *f = fopen(portfile, "r");
        if (f) {
            unsigned p = 0;
            int ok = fscanf(f, "%u", &p) == 1 && p > 0;
            fclose(f);
            if (ok) {
                k->port = p;
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            k->pid = -1;
            return -1;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kd_kill9(k);
    return -1;
}

int kd_stop(struct kd *k)
{
    if (k->pid <= 0)
        return -1;
    kill(k->pid, SIGTERM);
    int st = 0;
    pid_t r = waitpid(k->pid, &st, 0);
    k->pid = -1;
    if (r < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void kd_kill9(struct kd *k)
{
    if (k->pid <= 0)
        return;
    kill(k->pid, SIGKILL);
    waitpid(k->pid, NULL, 0);
    k->pid = -1;
}

void kd_cleanup(struct kd *k)
{
    kd_kill9(k);
    if (k->tmp[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", k->tmp);
        if (system(cmd) != 0) {
            /* a leftover temporary directory is not a test failure */
        }
    }
    kluis_keys_free(k->admin);
    k->admin = NULL;
}
