/*
 * cli/main.c — `kluis`, the command-line client of every role. Usage text in the manner of
 * signify/minisign: one line per command in `kluis help`, details with `kluis help COMMAND`.
 * This first version carries key generation; the server commands arrive with issue 4.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vault/secret.h"

static const struct {
    const char *name, *line, *detail;
    int (*fn)(int, char **);
} commands[] = {
    {"keygen", "kluis keygen --id ID --out FILE [--authority] [--no-passphrase]",
     "Writes a new key file FILE (mode 0600) and its public half FILE.pub; never overwrites.\n"
     "The passphrase is asked twice on the terminal, or read from KLUIS_PASSPHRASE when no\n"
     "terminal is attached. --authority makes the mayor's office escrow key instead of a\n"
     "principal key. --no-passphrase writes an unprotected file: for automation and tests only.\n"
     "\nExamples:\n  kluis keygen --id wijk-anna --out anna.key\n"
     "  kluis keygen --authority --id burgemeester --out authority.key\n",
     cmd_keygen},
    {"help", "kluis help [COMMAND]", "Lists the commands, or explains one.\n", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int help(const char *cmd)
{
    for (size_t i = 0; cmd && i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, cmd) == 0) {
            printf("usage: %s\n\n%s", commands[i].line, commands[i].detail);
            return EXIT_OK_;
        }
    if (cmd)
        cli_die(EXIT_USAGE, "no such command '%s' (see: kluis help)", cmd);
    puts("usage:");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %s\n", commands[i].line);
    return EXIT_OK_;
}

int main(int argc, char **argv)
{
    if (secret_init(1) != 0)
        cli_die(EXIT_CRYPTO, "cannot initialise libsodium");
    if (argc < 2)
        return help(NULL), EXIT_USAGE;
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
        return help(argc > 2 ? argv[2] : NULL);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].fn && strcmp(commands[i].name, argv[1]) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    cli_die(EXIT_USAGE, "unknown command '%s' (see: kluis help)", argv[1]);
}
