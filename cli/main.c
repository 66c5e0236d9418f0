/*
 * cli/main.c — `kluis`, the command-line client of every role. Usage text in the manner of
 * signify/minisign: one line per command in `kluis help`, details and examples with
 * `kluis help COMMAND`. Commands of two words ("admin register") are grouped by their first
 * word; the override and audit groups arrive with the override issue and slot into the same table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vault/secret.h"

struct command {
    const char *name, *line, *detail;
    int (*fn)(int, char **);
};

static const struct command commands[] = {
    /* ---- anyone ---- */
    {"keygen", "kluis keygen --id ID --out FILE [--authority] [--no-passphrase]",
     "Writes a new key file FILE (mode 0600) and its public half FILE.pub; never overwrites.\n"
     "The passphrase is asked twice on the terminal, or read from KLUIS_PASSPHRASE when no\n"
     "terminal is attached. --authority makes the mayor's office escrow key instead of a\n"
     "principal key. --no-passphrase writes an unprotected file: for automation and tests only.\n"
     "\nExamples:\n  kluis keygen --id wijk-anna --out anna.key\n"
     "  kluis keygen --authority --id burgemeester --out authority.key\n",
     cmd_keygen},
    {"vault", "kluis vault",
     "Shows who the vault is: origin, public keys, the charter in force (checked against the\n"
     "hash the vault publishes) and the size of its transparency log (checkpoint signature\n"
     "verified with the vault's log key). Needs no key.\n"
     "\nExample:\n  kluis --server https://kluis.voorbeeldstad.nl vault\n",
     cmd_vault},
    {"charter show", "kluis charter show",
     "Prints the charter in force in readable form: principles, sections, purposes with their\n"
     "longest consent and whether writing is allowed, and the override rules. With --json, the\n"
     "charter exactly as adopted. Needs no key.\n"
     "\nExample:\n  kluis charter show\n",
     cmd_charter_show},
    {"whoami", "kluis whoami",
     "Logs in if needed and shows your id, role, directory entry and when the session ends.\n"
     "\nExample:\n  kluis --key anna.key whoami\n",
     cmd_whoami},
    {"logout", "kluis logout",
     "Ends the session on the server and removes the cached token.\n"
     "\nExample:\n  kluis --key anna.key logout\n",
     cmd_logout},
    /* ---- admin ---- */
    {"admin register", "kluis admin register --role R --id ID --name N --org O --pub FILE",
     "Registers a principal (professional, mayor, officer, auditor, admin) with the public key\n"
     "file FILE that `kluis keygen` wrote for them. ID must match the id in FILE.\n"
     "\nExample:\n  kluis --key beheer.key admin register --role professional --id wijk-anna \\\n"
     "      --name 'Anna de Vries' --org 'Wijkteam Noord' --pub anna.key.pub\n",
     cmd_admin_register},
    {"admin deactivate", "kluis admin deactivate ID",
     "Deactivates principal ID: every session ends and no grant can be used by them any more.\n"
     "\nExample:\n  kluis --key beheer.key admin deactivate wijk-anna\n",
     cmd_admin_deactivate},
    {"admin citizen-add", "kluis admin citizen-add ID --name N",
     "Creates a citizen record and prints the one-time enrollment code to hand to the citizen.\n"
     "\nExample:\n  kluis --key beheer.key admin citizen-add jan-jansen --name 'Jan Jansen'\n",
     cmd_admin_citizen_add},
    {"admin charter-adopt", "kluis admin charter-adopt FILE",
     "Adopts the charter in FILE (its version must be higher than the one in force). The exact\n"
     "bytes are sent, so its hash is the one the log records.\n"
     "\nExample:\n  kluis --key beheer.key admin charter-adopt charter-v2.json\n",
     cmd_admin_charter_adopt},
    /* ---- citizen ---- */
    {"citizen enroll", "kluis citizen enroll --id ID --code CODE [--out FILE]",
     "Enrolls citizen ID with the code from the municipality: makes your key pairs, a key for\n"
     "every section of the charter (with signed commitments, wraps for you and the emergency\n"
     "escrow), seals your keys in a bundle under your passphrase (asked twice), and writes\n"
     "your key file FILE (default ID.key, sealed under the same passphrase).\n"
     "\nExample:\n  kluis citizen enroll --id jan-jansen --code 7KQ2-M9XD-4TPL\n",
     cmd_citizen_enroll},
    {"citizen login", "kluis citizen login --id ID [--out FILE]",
     "Logs in with your passphrase only, as the web page does: fetches your sealed key bundle,\n"
     "opens it on this computer and starts a session. --out FILE also writes a key file for\n"
     "this computer. Without one, use --citizen ID with later commands.\n"
     "\nExamples:\n  kluis citizen login --id jan-jansen --out jan.key\n"
     "  kluis --citizen jan-jansen grants\n",
     cmd_citizen_login},
    {"grant", "kluis grant --to ID --purpose P --sections a,b --days N [--write] [--request R] [--note T]",
     "Gives professional ID access to sections of your dossier for purpose P, for N days\n"
     "(read-only unless --write). Signs the grant and wraps every key of those sections for\n"
     "them. --request R answers their request R and takes what you leave out from it.\n"
     "\nExamples:\n  kluis --key jan.key grant --to wijk-anna --purpose ondersteuning --sections plan,wonen --days 90\n"
     "  kluis --key jan.key grant --request r-3f9c...\n",
     cmd_grant},
    {"grants", "kluis grants",
     "Lists the grants you gave, with their state (pending, active, expired, revoked).\n"
     "\nExample:\n  kluis --key jan.key grants\n",
     cmd_grants},
    {"revoke", "kluis revoke GRANT",
     "Revokes GRANT at once, then rotates the keys of its sections so that the professional\n"
     "cannot read what is written from now on (other live grants get the new keys).\n"
     "\nExample:\n  kluis --key jan.key revoke g-8d1e...\n",
     cmd_revoke},
    {"rotate", "kluis rotate SECTION",
     "Starts a new key epoch for SECTION: a new key, signed commitment, and wraps for you, the\n"
     "escrow and every live grant. Older entries stay readable to whoever held their key.\n"
     "\nExample:\n  kluis --key jan.key rotate wonen\n",
     cmd_rotate},
    {"requests", "kluis requests",
     "Lists open requests for access to your dossier.\n"
     "\nExample:\n  kluis --key jan.key requests\n",
     cmd_requests},
    {"decline", "kluis decline REQUEST",
     "Declines a request for access.\n"
     "\nExample:\n  kluis --key jan.key decline r-3f9c...\n",
     cmd_decline},
    {"journal", "kluis journal [--verify] [--after SEQ]",
     "Shows who did what with your dossier. --verify recomputes the hash chain over every event\n"
     "and compares it with the head the vault states; a mismatch exits 4.\n"
     "\nExamples:\n  kluis --key jan.key journal\n  kluis --key jan.key journal --verify\n",
     cmd_journal},
    {"export", "kluis export --out FILE",
     "Writes everything in your dossier to FILE as readable JSON: every entry decrypted after\n"
     "its key commitment, signature and hash were checked, with grants and the verified journal.\n"
     "\nExample:\n  kluis --key jan.key export --out mijn-dossier.json\n",
     cmd_export},
    {"erase", "kluis erase SECTION [--yes]",
     "Crypto-shreds SECTION: the vault destroys every key wrap and entry of it. Cannot be undone.\n"
     "Asks you to type the section name, or needs --yes without a terminal.\n"
     "\nExample:\n  kluis --key jan.key erase schulden\n",
     cmd_erase},
    /* ---- professional ---- */
    {"my-grants", "kluis my-grants",
     "Lists the grants citizens gave you, with their state.\n"
     "\nExample:\n  kluis --key anna.key my-grants\n",
     cmd_my_grants},
    {"request", "kluis request CITIZEN --purpose P --sections a,b --days N [--write] [--note T]",
     "Asks CITIZEN for access; they see it with `kluis requests` and may grant or decline it.\n"
     "\nExample:\n  kluis --key anna.key request jan-jansen --purpose ondersteuning --sections plan --days 90\n",
     cmd_request},
    {"read", "kluis read CITIZEN [--section S] [--out DIR]",
     "Reads the sections of CITIZEN's dossier open to you: checks every key against the\n"
     "citizen's signed commitment and every entry's signature and hash, decrypts, and says who\n"
     "wrote what. Any failed check exits 4 and shows nothing. --out DIR writes one JSON file per\n"
     "entry (DIR/SECTION/SEQ-ID.json, mode 0600) instead of printing.\n"
     "\nExamples:\n  kluis --key anna.key read jan-jansen\n"
     "  kluis --key anna.key read jan-jansen --section plan --out ./jan\n",
     cmd_read},
    {"write", "kluis write CITIZEN --section S [--title T] [--kind K] [--mime M] [--corrects E] < FILE",
     "Adds an entry read from standard input to SECTION, encrypted under the section's current\n"
     "key and signed by you. K is note (default), plan or document; a document is stored as\n"
     "base64 with --mime (default application/octet-stream). --corrects names an earlier entry.\n"
     "\nExamples:\n  echo 'Huisbezoek gehad; afspraak over de huur.' | kluis --key anna.key write jan-jansen \\\n"
     "      --section wonen --title 'Huisbezoek'\n"
     "  kluis --key anna.key write jan-jansen --section plan --kind document --mime application/pdf < plan.pdf\n",
     cmd_write},
    /* ---- emergency override (mayor, officer, beneficiary) ---- */
    {"override request",
     "kluis override request CITIZEN --beneficiary ID --ground G --hours H --sections a,b|all --justification T",
     "Mayor: asks to open CITIZEN's dossier in an emergency for professional ID, on ground G of the\n"
     "charter, for H hours, for the given sections (or all). The vault checks it against the charter,\n"
     "logs it publicly, and activates it once the charter's approvers have approved it.\n"
     "\nExample:\n  kluis --key burgemeester.key override request jan-jansen --beneficiary wijk-anna \\\n"
     "      --ground acuut-gevaar --hours 24 --sections plan,veiligheid --justification '...'\n",
     cmd_override_request},
    {"override approve", "kluis override approve ID [--yes]",
     "Officer: shows the full request as the mayor signed it (signature checked) and, after you\n"
     "type yes (or with --yes), signs an approval over the hash of exactly those bytes.\n"
     "\nExample:\n  kluis --key fg.key override approve ov-3f9c...\n",
     cmd_override_approve},
    {"override unlock", "kluis override unlock ID --authority-key FILE",
     "Mayor: fetches the escrow of an active override (the vault logs the release first), opens\n"
     "each key with the authority key, checks it against the citizen's signed commitment, and\n"
     "uploads it wrapped for the beneficiary only. Any failed check exits 4 and uploads nothing.\n"
     "\nExample:\n  kluis --key burgemeester.key override unlock ov-3f9c... --authority-key authority.key\n",
     cmd_override_unlock},
    {"override close", "kluis override close ID --reason T",
     "Mayor or beneficiary: ends the override now. Its wraps are destroyed; the citizen's client\n"
     "rotates the opened sections' keys on the citizen's next command.\n"
     "\nExample:\n  kluis --key anna.key override close ov-3f9c... --reason 'Inwoner is veilig.'\n",
     cmd_override_close},
    {"override list", "kluis override list [--state pending|active|closed]",
     "Mayor, officer, auditor: lists overrides with who, whom, why, how long and their state.\n"
     "\nExample:\n  kluis --key fg.key override list --state pending\n",
     cmd_override_list},
    /* ---- auditor ---- */
    {"audit verify", "kluis audit verify [--state FILE] [--log-key B64]",
     "Verifies the vault's transparency log as an independent auditor. The first run pins the\n"
     "log key (from the vault, or --log-key as published elsewhere) and origin in the state FILE\n"
     "(default $XDG_STATE_HOME/kluis/audit-<server>.json, mode 0600). Every run: the published\n"
     "key must be the pinned one; the checkpoint signature; a consistency proof from the checkpoint\n"
     "verified before (a smaller or forked log fails); every leaf fetched and the root recomputed;\n"
     "then every leaf replayed: charters, principals and each override's signatures (keys of the\n"
     "right role registered earlier), charter rules, quorum, escrow only while active, closure by\n"
     "expiry. Prints one line per override; exits 4 naming every violation (leaf, rule, detail).\n"
     "Needs an auditor's (or the mayor's or an officer's) key.\n"
     "\nExamples:\n  kluis --key accountant.key audit verify\n"
     "  kluis --key accountant.key --json audit verify --state /srv/audit/kluis.state\n",
     cmd_audit_verify},
    {"audit show", "kluis audit show ID [--state FILE] [--log-key B64]",
     "Verifies the log exactly as `audit verify` does (and advances the same state), then shows one\n"
     "override with its whole history: every leaf about it in log order with its time, the signed\n"
     "statement it carries (type, id, signer and role, whether the signature verifies with the key\n"
     "the log registered earlier), the charter rules that applied, and the verdict. Exits 4 when\n"
     "this override has a violation, 2 when the log never requested it.\n"
     "\nExample:\n  kluis --key accountant.key audit show ov-3f9c...\n",
     cmd_audit_show},
    {"help", "kluis help [COMMAND]", "Lists the commands, or explains one.\n", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const groups[] = {"admin", "citizen", "charter", "audit", "override"};

static const char globals_text[] =
    "\nglobal options (anywhere on the line):\n"
    "  --server URL    the vault (default $KLUIS_SERVER, then http://127.0.0.1:8080)\n"
    "  --key FILE      your key file (default $KLUIS_KEY)\n"
    "  --citizen ID    citizen without key file: log in with the passphrase ($KLUIS_CITIZEN)\n"
    "  --cacert FILE   trust this CA for https (certificates are always verified)\n"
    "  --json          machine-readable output\n"
    "  --timeout SECS  give up a request after SECS seconds (default 60)\n"
    "\nexit codes: 0 ok, 1 refused by the vault, 2 usage, 3 connection or TLS, 4 verification failed\n";

static int is_group(const char *w)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(groups[i], w) == 0)
            return 1;
    return 0;
}

static int help(int argc, char **argv)
{
    char name[128] = "";
    if (argc > 0)
        snprintf(name, sizeof name, "%s%s%s", argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    if (name[0]) {
        int shown = 0;
        for (size_t i = 0; i < NCOMMANDS; i++) {
            size_t n = strlen(name);
            if (strcmp(commands[i].name, name) == 0) {
                printf("usage: %s\n\n%s", commands[i].line, commands[i].detail);
                return EXIT_OK_;
            }
            if (strncmp(commands[i].name, name, n) == 0 && commands[i].name[n] == ' ') {
                printf("%s  %s\n", shown++ ? "" : "usage:\n", commands[i].line);
            }
        }
        if (shown)
            return EXIT_OK_;
        cli_die(EXIT_USAGE, "no such command '%s' (see: kluis help)", name);
    }
    puts("usage:");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %s\n", commands[i].line);
    fputs(globals_text, stdout);
    return EXIT_OK_;
}

int main(int argc, char **argv)
{
    if (secret_init(1) != 0)
        cli_die(EXIT_CRYPTO, "cannot initialise libsodium");
    cli_json_wiping();
    atexit(http_cleanup);
    cli_g.server = getenv("KLUIS_SERVER");
    cli_g.key_path = getenv("KLUIS_KEY");
    cli_g.citizen = getenv("KLUIS_CITIZEN");
    cli_g.timeout = 60;
    if (cli_g.key_path && !cli_g.key_path[0])
        cli_g.key_path = NULL;
    if (cli_g.citizen && !cli_g.citizen[0])
        cli_g.citizen = NULL;

    /* global options before the command; commands accept them anywhere as well */
    int i = cli_parse_globals(argc, argv, 1);
    if (i >= argc)
        return help(0, NULL), EXIT_USAGE;
    if (strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        return help(argc - i - 1 > 2 ? 2 : argc - i - 1, argv + i + 1);
    if (!cli_g.server || !cli_g.server[0])
        cli_g.server = "http://127.0.0.1:8080";
    /* strip one trailing '/' so that paths join cleanly */
    static char server[2048];
    snprintf(server, sizeof server, "%s", cli_g.server);
    size_t sl = strlen(server);
    while (sl > 0 && server[sl - 1] == '/')
        server[--sl] = 0;
    cli_g.server = server;

    char name[128];
    int words = 1;
    if (is_group(argv[i])) {
        if (i + 1 >= argc || argv[i + 1][0] == '-') {
            char *g[1] = {argv[i]};
            help(1, g);
            return EXIT_USAGE;
        }
        snprintf(name, sizeof name, "%s %s", argv[i], argv[i + 1]);
        words = 2;
    } else {
        snprintf(name, sizeof name, "%s", argv[i]);
    }
    for (size_t c = 0; c < NCOMMANDS; c++)
        if (commands[c].fn && strcmp(commands[c].name, name) == 0) {
            int rc = commands[c].fn(argc - i - words + 1, argv + i + words - 1);
            fflush(stdout);
            /* A citizen's client rotates the sections a closed override opened (issue 5). */
            if (rc == EXIT_OK_ && !strcmp(cli_session_role_held(), "citizen") && strcmp(name, "logout") != 0)
                override_citizen_aftercare();
            return rc;
        }
    cli_die(EXIT_USAGE, "unknown command '%s' (see: kluis help)", name);
}
