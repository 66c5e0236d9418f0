/*
 * vault/checkpoint.h — the log's signed checkpoint (SPEC §8): a C2SP tlog-checkpoint carried in a
 * C2SP signed note, signed with the log's Ed25519 key under the key name ORIGIN.
 *
 *     <origin>\n<size>\n<base64 root>\n\n— <origin> base64(keyID4 || Ed25519 signature)\n
 *
 * keyID = SHA-256(origin || 0x0A || 0x01 || log_pk)[:4]; the signature covers the three body
 * lines with their newlines. Base64 is the standard alphabet with padding. Pure functions, no
 * I/O, thread-safe; sodium_init() must have succeeded first.
 */
#ifndef KLUIS_CHECKPOINT_H
#define KLUIS_CHECKPOINT_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_KEYID_BYTES 4U
/** Longest origin accepted (bytes of UTF-8). */
#define CHECKPOINT_ORIGIN_MAX 255U
/** Longest note the verifier reads; anything longer is refused unread. */
#define CHECKPOINT_NOTE_MAX 16384U
/** Most signature lines a note may carry (Go's note.Open limit). */
#define CHECKPOINT_MAX_SIGS 100U

/**
 * @brief Whether ORIGIN may name a log: 1..CHECKPOINT_ORIGIN_MAX bytes of valid UTF-8 with no
 *        control character, no Unicode space and no '+' (the signed-note key name rules).
 * @return 1 when valid, 0 otherwise (also for NULL).
 */
int checkpoint_origin_valid(const char *origin);

/**
 * @brief The signed-note key ID of the log key: SHA-256(ORIGIN || 0x0A || 0x01 || LOG_PK)[:4].
 * @param[out] key_id  4 bytes.
 * @param[in]  origin  NUL-terminated key name (not validated here).
 * @param[in]  log_pk  the log's Ed25519 public key.
 */
void checkpoint_key_id(unsigned char key_id[CHECKPOINT_KEYID_BYTES], const char *origin,
                       const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES]);

/**
 * @brief Sign the checkpoint of the tree of SIZE leaves with root ROOT.
 * @param[in] origin  the log's origin line and key name; must pass checkpoint_origin_valid().
 * @param[in] size    tree size.
 * @param[in] root    the tree's root hash (merkle_tree_hash()).
 * @param[in] log_sk  the log's libsodium Ed25519 secret key (seed || pk), in secret memory; the
 *                    key ID is derived from its public half. Read only; not kept.
 * @return the note, a malloc'd NUL-terminated string the caller frees; NULL when ORIGIN is
 *         invalid or memory is exhausted.
 */
char *checkpoint_sign(const char *origin, uint64_t size, const unsigned char root[32],
                      const unsigned char log_sk[crypto_sign_SECRETKEYBYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Open a checkpoint note: strict parse, then the log's signature.
 *
 * The note must be valid UTF-8 without control characters other than '\n', at most
 * CHECKPOINT_NOTE_MAX bytes, and consist of exactly the three body lines (ORIGIN byte for byte;
 * size in decimal without sign or leading zeros; the root as 44 characters of standard base64),
 * one blank line, and 1..CHECKPOINT_MAX_SIGS well-formed signature lines
 * ("— " name " " base64(keyID4 || sig) "\n", name per checkpoint_origin_valid(), at least 5
 * decoded bytes). Extension lines are refused: our log never writes them. Lines of other signers
 * (another name or key ID, e.g. witnesses) are ignored, as signed-note prescribes; every line
 * carrying our name and key ID must be a valid Ed25519 signature of the body, and there must be
 * at least one.
 *
 * @param[out] size      the tree size (written only on success).
 * @param[out] root      the root hash, 32 bytes (written only on success).
 * @param[in]  note      the note bytes (need not be NUL-terminated; a NUL byte is refused).
 * @param[in]  note_len  their length.
 * @param[in]  origin    the expected origin / key name.
 * @param[in]  log_pk    the log's Ed25519 public key.
 * @return 0 when the note is a valid checkpoint of our log, -1 otherwise.
 */
int checkpoint_verify(uint64_t *size, unsigned char root[32], const char *note, size_t note_len,
                      const char *origin, const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES])
    __attribute__((warn_unused_result));

#endif
