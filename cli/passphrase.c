/*
 * cli/passphrase.c — passphrases into secret memory: from /dev/tty with echo off, or from
 * KLUIS_PASSPHRASE for automation when no terminal is attached. Never from argv (visible in ps).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "vault/secret.h"

#define PASS_MAX 1024

static char *read_tty(int fd, const char *prompt)
{
    struct termios old, quiet;
    char *buf = secret_new(PASS_MAX + 2);
    if (!buf)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    if (write(fd, prompt, strlen(prompt)) < 0)
        cli_die(EXIT_USAGE, "cannot write to the terminal");
    int echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    size_t n = 0;
    char c;
    while (n <= PASS_MAX && read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
        buf[n++] = c;
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* nothing to do: the newline is cosmetic */
    }
    if (n > PASS_MAX) {
        secret_free(buf);
        cli_die(EXIT_USAGE, "the passphrase is longer than %d bytes", PASS_MAX);
    }
    buf[n] = 0;
    return buf;
}

char *cli_passphrase(const char *prompt, int confirm, size_t *len)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        const char *env = getenv("KLUIS_PASSPHRASE");
        if (!env)
            cli_die(EXIT_USAGE, "no terminal to ask for the passphrase: set KLUIS_PASSPHRASE");
        size_t l = strlen(env);
        if (l == 0 || l > PASS_MAX)
            cli_die(EXIT_USAGE, "KLUIS_PASSPHRASE must hold 1 to %d bytes", PASS_MAX);
        char *p = secret_new(l + 1);
        if (!p)
            cli_die(EXIT_CRYPTO, "out of secure memory");
        memcpy(p, env, l + 1);
        *len = l;
        return p;
    }
    char *p = read_tty(fd, prompt);
    if (confirm) {
        char *q = read_tty(fd, "Repeat the passphrase: ");
        size_t lp = strlen(p);
        int same = lp == strlen(q) && sodium_memcmp(p, q, lp) == 0;
        secret_free(q);
        if (!same) {
            secret_free(p);
            close(fd);
            cli_die(EXIT_USAGE, "the two passphrases differ; nothing was written");
        }
    }
    close(fd);
    if (p[0] == 0) {
        secret_free(p);
        cli_die(EXIT_USAGE, "an empty passphrase is not accepted (use --no-passphrase for test keys)");
    }
    *len = strlen(p);
    return p;
}
