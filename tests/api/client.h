/*
 * tests/api/client.h — a C client for API tests that does the crypto a real client does.
 *
 * Everything a test needs to reach the state it wants to test through the real protocol: JSON
 * calls with a bearer token, challenge login for a principal, registering principals as admin,
 * creating and enrolling citizens (fresh key pairs, one DEK per charter section, citizen-signed
 * epoch statements with key commitments, self wraps, escrow wraps to the vault's gate and
 * authority keys, the passphrase bundle), and the passphrase login (prelogin → Argon2id on the
 * client → bundle → open → challenge login). Built on tests/api/httpc.h; one connection per
 * call. Functions return the HTTP status of the decisive call (so a test can assert 201/409/...),
 * -1 when no answer came or the client itself failed.
 *
 * Secrets (keys, DEKs) live in secret memory (vault/secret.h). Not thread-safe per object.
 */
#ifndef KLUIS_TESTS_CLIENT_H
#define KLUIS_TESTS_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/crypto.h"

#define KC_TOKEN_MAX 128
#define KC_SECTIONS_MAX 32
#define KC_PASSPHRASE_MAX 128

/** One answer. json is the parsed body (NULL if none or not JSON); error the "error" code or "". */
struct kc_resp {
    int status;
    json_t *json;
    char error[64];
    unsigned int retry_after;  /* the Retry-After header, 0 when absent */
    char *body;                /* the raw body, NUL-terminated */
    size_t body_len;
};

/** @brief Free what a call put in R (R is zeroed). */
void kc_resp_free(struct kc_resp *r);

/**
 * @brief METHOD PATH with an optional bearer TOKEN and optional JSON BODY (borrowed, sent as
 *        application/json).
 * @return the status (also in OUT), or -1 when no response arrived.
 */
int kc_call(unsigned int port, const char *method, const char *path, const char *token, const json_t *body,
            struct kc_resp *out);

/**
 * @brief Like kc_call() with raw BODY bytes and an explicit CONTENT_TYPE (NULL: no header), for
 *        tests of malformed input.
 */
int kc_call_raw(unsigned int port, const char *method, const char *path, const char *token,
                const char *content_type, const void *body, size_t len, struct kc_resp *out);

/** The vault's public keys from GET /v1/vault. */
struct kc_vault {
    unsigned char log_pk[32], gate_pk[32], authority_pk[32];
};

/** @brief GET /v1/vault into OUT. @return 200 or an error status / -1. */
int kc_vault_info(unsigned int port, struct kc_vault *out);

/**
 * @brief Challenge login as ID with KEYS (POST /auth/challenge, sign, POST /auth/session).
 * @param[out] token  the session token on 200 (NUL-terminated); "" otherwise.
 * @param[out] resp   the /auth/session answer (may be NULL).
 * @return the status of POST /auth/session, or -1.
 */
int kc_login(unsigned int port, const char *id, const struct kluis_keys *keys, char token[KC_TOKEN_MAX],
             struct kc_resp *resp);

/**
 * @brief POST /v1/principals as the admin session ADMIN_TOKEN with KEYS' public halves.
 * @return the status (201 on success).
 */
int kc_register(unsigned int port, const char *admin_token, const char *id, const char *role,
                const char *display_name, const char *organisation, const struct kluis_keys *keys);

/**
 * @brief Generate keys, register ID with ROLE, and log in.
 * @param[out] keys   the new keys (kluis_keys_free()); NULL on failure.
 * @param[out] token  a session token.
 * @return 0, or -1 (any step failed).
 */
int kc_principal_new(unsigned int port, const char *admin_token, const char *id, const char *role,
                     struct kluis_keys **keys, char token[KC_TOKEN_MAX]);

/** A citizen as their own client knows them: keys and the DEK of every section's current epoch. */
struct kc_citizen {
    char id[64];
    struct kluis_keys *keys;                      /* secret memory */
    size_t n;                                     /* sections */
    char section[KC_SECTIONS_MAX][64];
    uint64_t epoch[KC_SECTIONS_MAX];              /* current epoch per section (1 after enrol) */
    unsigned char (*dek)[KLUIS_KEY_BYTES];        /* n DEKs, secret memory */
    char passphrase[KC_PASSPHRASE_MAX];
    char token[KC_TOKEN_MAX];                     /* after kc_citizen_login(), else "" */
};

/**
 * @brief A fresh citizen client state for ID: new key pairs and one random DEK per section of the
 *        charter in force (GET /v1/charter), epochs 1. Nothing is sent to the vault.
 * @return the state (kc_citizen_free()), or NULL.
 */
struct kc_citizen *kc_citizen_new(unsigned int port, const char *id, const char *passphrase);

/** @brief Wipe and free. NULL ignored. */
void kc_citizen_free(struct kc_citizen *cz);

/**
 * @brief POST /v1/citizens as admin. @param[out] code the enrollment code on 201 ("" otherwise).
 * @return the status.
 */
int kc_citizen_create(unsigned int port, const char *admin_token, const char *id, const char *display_name,
                      char code[64]);

/**
 * @brief The enrollment body for CZ with CODE: keys, a fresh bundle sealed under CZ's passphrase
 *        (Argon2id, interactive limits), and per section {section, epoch 1, statement, signature,
 *        self_wrap, escrow_wrap} with statement ids "ep-" + 20 random hex digits.
 * @param[in] vi  the vault's keys (escrow wraps go to gate_pk and authority_pk).
 * @return a new object, or NULL.
 */
json_t *kc_enroll_body(const struct kc_citizen *cz, const char *code, const struct kc_vault *vi);

/**
 * @brief Sign an epoch statement of CZ for SECTION, EPOCH with DEK's commitment, issued at NOW,
 *        with statement id ID (NULL: random). @return the envelope {statement, signature}, or NULL.
 */
json_t *kc_epoch_statement(const struct kc_citizen *cz, const char *section, uint64_t epoch,
                           const unsigned char dek[KLUIS_KEY_BYTES], const char *id, int64_t now);

/** @brief POST /v1/citizens/{id}/enroll with kc_enroll_body(). @return the status (200). */
int kc_citizen_enroll(unsigned int port, const struct kc_citizen *cz, const char *code, struct kc_resp *resp);

/**
 * @brief Create and enroll ID in one go and log in by challenge (cz->token set).
 * @return the state, or NULL when any step failed.
 */
struct kc_citizen *kc_citizen_setup(unsigned int port, const char *admin_token, const char *id,
                                    const char *passphrase);

/**
 * @brief {salt, opslimit, memlimit, bundle, auth_hash} sealing KEYS under PASSPHRASE for citizen
 *        ID (what enrollment and POST /passphrase carry). @return a new object, or NULL.
 */
json_t *kc_bundle_body(const char *id, const struct kluis_keys *keys, const char *passphrase);

/**
 * @brief The passphrase login of SPEC §3: prelogin, derive, POST /auth/bundle, open the bundle
 *        (checking its keys against the sign_pk/box_pk answered), challenge login.
 * @param[out] keys   the recovered key pairs (kluis_keys_free()); may be NULL.
 * @param[out] token  the session token.
 * @param[out] resp   the /auth/bundle answer (may be NULL): 401/429 land here.
 * @return the status of the first call that did not succeed, 200 when all did, or -1.
 */
int kc_bundle_login(unsigned int port, const char *id, const char *passphrase, struct kluis_keys **keys,
                    char token[KC_TOKEN_MAX], struct kc_resp *resp);

#endif
