/*
 * cli/cli.h — what the commands of `kluis` share.
 *
 *   cli/util.c       die-fast helpers (allowed here, STYLE §9), option parsing, --json output,
 *                    progress lines, ids, times, files, jansson's wiping allocator
 *   cli/passphrase.c passphrase input
 *   cli/http.c       the one libcurl wrapper: every byte to and from kluisd passes through it
 *   cli/session.c    who we are (key file or citizen bundle), session tokens and their cache,
 *                    authenticated API calls, the principal directory
 *   cli/dossier.c    section keys: unwrapping, commitment checks, entry verification (shared by
 *                    citizen and professional commands), read, write, request, my-grants
 *   cli/info.c, cli/admin.c, cli/citizen.c, cli/journal.c, cli/keygen.c   the commands
 *
 * Every command is `int cmd_x(int argc, char **argv)` with ARGV[0] the command's last word; it
 * returns an exit code or dies through cli_die()/cli_fail() with one.
 */
#ifndef KLUIS_CLI_H
#define KLUIS_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/crypto.h"

/* Exit codes of kluis (issue 4): the SPEC-facing contract of the client. */
enum cli_exit {
    EXIT_OK_ = 0,
    EXIT_REFUSED = 1,  /* the server refused; its code and message were printed */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_CONNECT = 3,  /* connection or TLS problem, or an answer that is not Kluis protocol */
    EXIT_CRYPTO = 4    /* local crypto or verification failure, or a local file problem */
};

/* ---- global options ------------------------------------------------------------------------ */

struct cli_global {
    const char *server;    /* --server / KLUIS_SERVER / http://127.0.0.1:8080, no trailing '/' */
    const char *key_path;  /* --key / KLUIS_KEY, or NULL                                        */
    const char *citizen;   /* --citizen / KLUIS_CITIZEN: log in through the passphrase bundle   */
    const char *cacert;    /* --cacert FILE, or NULL (system store)                             */
    int json;              /* --json                                                            */
    long timeout;          /* --timeout SECONDS (whole request), default 60                     */
};
extern struct cli_global cli_g;

/* ---- dying ----------------------------------------------------------------------------------- */

/** @brief Print "kluis: MESSAGE" to stderr (and, with --json, {"error":..} on stdout); exit CODE. */
void cli_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/** @brief As cli_die(), naming the error KIND in the --json object (a SPEC code for exit 1). */
void cli_fail(int code, const char *kind, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* ---- options --------------------------------------------------------------------------------- */

enum cli_opt_kind { OPT_FLAG, OPT_STR, OPT_INT };

/** One option of a command: "--name" (OPT_FLAG sets int 1, OPT_STR a const char *, OPT_INT an
 *  int64_t >= 0). A table ends with a row whose name is NULL. */
struct cli_opt {
    const char *name;
    enum cli_opt_kind kind;
    void *out;
};

/**
 * @brief Parse ARGV[1..ARGC) of command CMD: its OPTS and the global options anywhere, the rest
 *        into POS. Dies with EXIT_USAGE on an unknown option, a missing or bad value, or a number
 *        of positional arguments outside [MIN, MAX].
 * @return the number of positional arguments.
 */
size_t cli_parse(int argc, char **argv, const struct cli_opt *opts, const char **pos, size_t min,
                 size_t max, const char *cmd);

/** @brief Consume global options from ARGV[I] on; returns the index of the first other word. */
int cli_parse_globals(int argc, char **argv, int i);

/** @brief Die with EXIT_USAGE unless S is a SPEC §2 identifier; WHAT names it in the message. */
void cli_need_id(const char *s, const char *what);

/** @brief Split "a,b,c" into a new JSON array of identifiers; dies with EXIT_USAGE when bad. */
json_t *cli_id_list(const char *csv, const char *what);

/* ---- output ---------------------------------------------------------------------------------- */

/** @brief With --json, print OBJ (indented) to stdout. Steals OBJ either way. */
void cli_emit(json_t *obj);

/** @brief A progress line on stderr (overwritten in place) when stderr is a terminal. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** @brief Clear the progress line, if one was shown. */
void cli_progress_done(void);

/** @brief "YYYY-MM-DD HH:MM" in local time (static buffer; one use per statement). */
const char *cli_time(int64_t t);

/** @brief A fresh statement/object id: PREFIX "-" 24 hex digits (96 random bits). */
void cli_new_id(char out[KLUIS_ID_MAX + 1], const char *prefix);

/** @brief Seconds since the epoch. */
int64_t cli_now(void);

/** @brief JSON helpers for answers from the server: the string/integer member or NULL/-1. */
const char *cli_jstr(const json_t *obj, const char *key);
int64_t cli_jint(const json_t *obj, const char *key);

/** @brief Decode base64url member KEY of OBJ into exactly N bytes; dies EXIT_CRYPTO naming WHAT. */
void cli_jb64(unsigned char *out, size_t n, const json_t *obj, const char *key, const char *what);

/** @brief Read a whole file (at most MAX bytes) into a malloc'd NUL-terminated buffer; dies with
 *         EXIT_CRYPTO when it cannot. */
char *cli_read_file(const char *path, size_t max, size_t *len);

/** @brief Read all of stdin (at most MAX bytes); dies EXIT_USAGE when longer. */
unsigned char *cli_read_stdin(size_t max, size_t *len);

/** @brief Create PATH with O_EXCL|O_NOFOLLOW, mode 0600, write LEN bytes, fsync. 0 or -1 (errno). */
int cli_write_new(const char *path, const void *data, size_t len);

/** @brief Install jansson allocators that wipe every block on free (keys, tokens, plaintext). */
void cli_json_wiping(void);

/* ---- passphrase ------------------------------------------------------------------------------ */

/**
 * @brief Read a passphrase: from the terminal without echo (asking twice when CONFIRM), or from
 *        KLUIS_PASSPHRASE when no terminal is attached.
 * @param[out] len  its length.
 * @return a secret_new() buffer (free with secret_free()); dies when none can be read.
 */
char *cli_passphrase(const char *prompt, int confirm, size_t *len);

/* ---- HTTP (cli/http.c) ----------------------------------------------------------------------- */

struct http_resp {
    long status;
    char *body;            /* NUL-terminated; wiped and freed by http_resp_free() */
    size_t len;
    char content_type[96];
};

/**
 * @brief One HTTP exchange with the server (cli_g.server + PATH). BODY (BODY_LEN bytes, may be
 *        NULL) is sent as application/json; TOKEN (may be NULL) as a bearer token. Dies with
 *        EXIT_CONNECT on any connection, TLS, timeout or size problem; any HTTP status returns.
 */
void http_request(struct http_resp *resp, const char *method, const char *path, const char *body,
                  size_t body_len, const char *token);
void http_resp_free(struct http_resp *resp);
/** @brief Release libcurl at exit (registered by main). */
void http_cleanup(void);

/* ---- API calls (cli/session.c) --------------------------------------------------------------- */

struct api_result {
    long status;
    json_t *json;          /* the answer object (success or error); caller json_decref()s */
    char code[64];         /* on refusal: the SPEC code ("grant_revoked", ...) */
    char message[256];
};

/** Authentication of a call. */
enum api_auth { API_ANON = 0, API_AUTH = 1 };

/**
 * @brief Call the API. BODY (may be NULL) is serialised compactly; RAW/RAW_LEN instead sends bytes
 *        as they are (api_try_raw). With API_AUTH a session is used (logging in when there is
 *        none or it expired) and a 401 is answered by one fresh login and retry.
 * @return 0 on 2xx (R->json the answer object), -1 on a refusal (R->code, R->message set). Dies
 *         with EXIT_CONNECT when the answer is not JSON from a Kluis server.
 */
int api_try(struct api_result *r, const char *method, const char *path, const json_t *body,
            enum api_auth auth);
int api_try_raw(struct api_result *r, const char *method, const char *path, const char *raw,
                size_t raw_len, enum api_auth auth);
/** @brief api_try() that dies on a refusal: "kluis: refused: CODE: MESSAGE", exit 1. */
json_t *api_call(const char *method, const char *path, const json_t *body, enum api_auth auth);
/** @brief Die with exit 1 for the refusal in R. */
void api_refused(const struct api_result *r) __attribute__((noreturn));

/* ---- identity and sessions (cli/session.c) ----------------------------------------------------- */

/** @brief Our principal id (from --key's file or --citizen); dies EXIT_USAGE when neither. */
const char *cli_id(void);
/** @brief Our key pairs, opened on first use (passphrase); dies when they cannot be. */
const struct kluis_keys *cli_keys(void);
/** @brief Our role, from the session (logging in if needed). */
const char *cli_role(void);
/** @brief The session's expiry time (logging in if needed). */
int64_t cli_session_expires(void);
/** @brief Adopt KEYS (copied) as ours for citizen ID: after enroll/login through the bundle. */
void cli_adopt_keys(const char *id, const struct kluis_keys *keys);
/** @brief Log in now (challenge-response) and cache the session; returns the role. */
const char *cli_login(void);
/** @brief End the session on the server and forget the cached token. */
void cli_logout(void);
/**
 * @brief Open citizen ID's keys through the passphrase bundle (SPEC §3): prelogin, Argon2id
 *        locally, fetch the bundle, open it, check it against the served public keys.
 * @param[out] keys  filled (from kluis_keys_new()).
 */
void cli_bundle_open(struct kluis_keys *keys, const char *id);
/** @brief cli_bundle_open() with the passphrase given. */
void cli_bundle_open_pass(struct kluis_keys *keys, const char *id, const char *pass, size_t plen);

/* ---- directory --------------------------------------------------------------------------------- */

/** @brief The directory entry of principal ID (GET /v1/principals, cached), or NULL. Borrowed. */
const json_t *dir_find(const char *id);
/** @brief Sign and box key of principal ID from the directory; dies EXIT_CRYPTO when absent/bad. */
void dir_keys(const char *id, unsigned char sign_pk[32], unsigned char box_pk[32]);
/**
 * @brief Pin PK as the KIND key ("sign", "box", "citizen-sign") of ID at this server, trust on
 *        first use, in $XDG_CONFIG_HOME/kluis (or ~/.config/kluis); dies EXIT_CRYPTO when a key
 *        pinned earlier differs. Keys the vault hands out cannot be swapped later unnoticed.
 */
void cli_pin_key(const char *kind, const char *id, const unsigned char pk[32]);
/** @brief "display_name (organisation)" or the id, for output. Static buffer. */
const char *dir_label(const char *id);

/* ---- vault info -------------------------------------------------------------------------------- */

/** Public keys of the vault, from GET /v1/vault (fetched once). */
struct vault_info {
    json_t *json;
    const char *origin;
    unsigned char log_pk[32], gate_pk[32], authority_pk[32];
};
const struct vault_info *cli_vault(void);
/** @brief The charter in force, checked against the hash GET /v1/vault publishes (exit 4 if not).
 *         Returns a borrowed struct charter * (opaque here to keep policy/ out of this header). */
const void *cli_charter(void);
/** @brief The exact charter bytes as served. */
const char *cli_charter_bytes(size_t *len);

/* ---- dossier keys and entries (cli/dossier.c) ------------------------------------------------- */

/** One epoch key of a section: verified against the citizen-signed epoch statement. */
struct dek {
    char section[KLUIS_ID_MAX + 1];
    int64_t epoch;
    unsigned char *key;    /* 32 bytes of secret memory */
};

struct dossier {
    char citizen[KLUIS_ID_MAX + 1];
    unsigned char citizen_sign_pk[32];
    json_t *json;          /* GET /citizens/{c}/dossier */
    struct dek *deks;
    size_t ndeks;
};

/**
 * @brief GET the dossier of CITIZEN (sections open to us), verify every epoch statement with the
 *        citizen's signing key, unwrap every wrap we hold with our box key and check it against
 *        its commitment. ONLY (may be NULL) restricts to one section. Dies EXIT_CRYPTO on any
 *        verification failure and EXIT_REFUSED on a refusal.
 */
void dossier_load(struct dossier *d, const char *citizen, const char *only);
void dossier_free(struct dossier *d);
/** @brief The key of SECTION at EPOCH, or NULL when we hold none. */
const struct dek *dossier_dek(const struct dossier *d, const char *section, int64_t epoch);
/** @brief The section object of D (with "current_epoch", "epochs"), or NULL. */
const json_t *dossier_section(const struct dossier *d, const char *section);
/** @brief The current epoch of SECTION in D, or 0. */
int64_t dossier_current_epoch(const struct dossier *d, const char *section);

/**
 * @brief Verify one entry as served ({seq, statement, signature, blob}) of SECTION: the author's
 *        signature, citizen/section fields, blob_hash, the epoch key, decryption.
 * @return a new object {seq, id, section, epoch, author, author_role, author_name, issued,
 *         corrects?, content:{the plaintext JSON}}; dies EXIT_CRYPTO on any failure.
 */
json_t *dossier_open_entry(const struct dossier *d, const char *section, const json_t *item);

/** @brief All entries of SECTION, verified and decrypted, in seq order (a new array). */
json_t *dossier_read_section(const struct dossier *d, const char *section);

/* ---- the commands ------------------------------------------------------------------------------- */

int cmd_keygen(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_vault(int argc, char **argv);
int cmd_charter_show(int argc, char **argv);
int cmd_admin_register(int argc, char **argv);
int cmd_admin_deactivate(int argc, char **argv);
int cmd_admin_citizen_add(int argc, char **argv);
int cmd_admin_charter_adopt(int argc, char **argv);
int cmd_citizen_enroll(int argc, char **argv);
int cmd_citizen_login(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_grants(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_requests(int argc, char **argv);
int cmd_decline(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_my_grants(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_audit_verify(int argc, char **argv);
int cmd_audit_show(int argc, char **argv);

int cmd_override_request(int argc, char **argv);
int cmd_override_approve(int argc, char **argv);
int cmd_override_unlock(int argc, char **argv);
int cmd_override_close(int argc, char **argv);
int cmd_override_list(int argc, char **argv);

/**
 * @brief After a command run as a citizen: rotate every section of our dossier whose keys an
 *        emergency override released and which has not been rotated since that override closed
 *        (the vault journals one "override-closed" event per such section). cli/override.c.
 */
void override_citizen_aftercare(void);

/** @brief The role of the session this process already holds ("" when it logged in to nothing). */
const char *cli_session_role_held(void);

/** @brief Print (or with --json emit) a grants answer; MINE: as the grantee sees them. Steals ANS. */
void cli_print_grants(json_t *ans, int mine);

/** @brief Rotate SECTION of our own dossier (shared by rotate and revoke). Returns the new epoch. */
int64_t citizen_rotate_section(const char *section);

#endif
