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

/* Under KLUIS_VALGRIND=DIR: the valgrind arguments that go before kluisd's, into AV; their count. */
static size_t valgrind_prefix(const char **av, char *logopt, size_t cap)
{
    const char *dir = getenv("KLUIS_VALGRIND");
    if (!dir || !*dir)
        return 0;
    snprintf(logopt, cap, "--log-file=%s/kluisd.%%p.log", dir);
    av[0] = "valgrind";
    av[1] = "--quiet";
    av[2] = "--leak-check=full";
    av[3] = "--show-leak-kinds=definite,indirect,possible";
    av[4] = "--errors-for-leak-kinds=definite,indirect,possible";
    av[5] = "--error-exitcode=99";
    av[6] = logopt;
    return 7;
}

static void exec_kluisd(struct kd *k, const char **av)
{
    if (av[0] == k->kluisd)
        execv(k->kluisd, (char *const *)av);
    else
        execvp("valgrind", (char *const *)av);
}

int kd_run(struct kd *k, const char *const *argv)
{
    const char *av[48];
    char logopt[400];
    size_t n = valgrind_prefix(av, logopt, sizeof logopt), first;
    av[n++] = k->kluisd;
    first = n;
    for (; argv[n - first] && n < 47; n++)
        av[n] = argv[n - first];
    av[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        exec_kluisd(k, av);
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
        const char *av[40];
        char logopt[400];
        size_t n = valgrind_prefix(av, logopt, sizeof logopt);
        const char *const args[] = {k->kluisd, "serve", "--dir", k->vault, "--listen", "127.0.0.1:0",
                                    "--port-file", portfile, NULL};
        for (size_t i = 0; i + 1 < sizeof args / sizeof args[0]; i++)
            av[n++] = args[i];
        for (size_t i = 0; i + 1 < sizeof k->serve_extra / sizeof k->serve_extra[0] && k->serve_extra[i]; i++)
            av[n++] = k->serve_extra[i];
        av[n] = NULL;
        if (k->errlog[0]) {
            int fd = open(k->errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (fd >= 0)
                dup2(fd, 2);
        }
        exec_kluisd(k, av);
        _exit(127);
    }
    k->pid = pid;
    /* up to 20 s (the sanitizer build starts slowly), 120 s under valgrind */
    int tries = getenv("KLUIS_VALGRIND") ? 1200 : 200;
    for (int i = 0; i < tries; i++) {
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
