/*
 * cli/cli.h — what the commands of `kluis` share: the die-fast helpers (allowed here, STYLE §9),
 * exit codes, and passphrase input.
 */
#ifndef KLUIS_CLI_H
#define KLUIS_CLI_H

#include <stddef.h>

/* Exit codes of kluis (issue 4): the SPEC-facing contract of the client. */
enum cli_exit {
    EXIT_OK_ = 0,
    EXIT_REFUSED = 1,  /* the server refused; its code and message were printed */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_CONNECT = 3,  /* connection or TLS problem */
    EXIT_CRYPTO = 4    /* local crypto or verification failure, or a local file problem */
};

/** @brief Print "kluis: MESSAGE" to stderr and exit with CODE. */
void cli_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/**
 * @brief Read a passphrase: from the terminal without echo (asking twice when CONFIRM), or from
 *        KLUIS_PASSPHRASE when no terminal is attached.
 * @param[out] len  its length.
 * @return a secret_new() buffer (free with secret_free()); dies when none can be read.
 */
char *cli_passphrase(const char *prompt, int confirm, size_t *len);

/** `kluis keygen ...` (cli/keygen.c). ARGV[0] is "keygen". Returns the exit code. */
int cmd_keygen(int argc, char **argv);

#endif
