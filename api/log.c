/*
 * api/log.c — the public face of the transparency log (SPEC §6, §8): the latest signed checkpoint
 * and inclusion and consistency proofs against any size up to it. Answers only from committed,
 * signed trees (vault/tlog.h); sizes beyond the checkpoint are refused, never guessed. The leaves
 * themselves (GET /v1/log/entries) are for auditors, the mayor and officers.
 */
#include "api/auth.h"
#include "api/handlers.h"
#include "vault/encoding.h"
#include "vault/vault.h"

#include <stdlib.h>
#include <string.h>

void handle_log_checkpoint(struct request *r)
{
    vault *v = r->ctx;
    char *note = tlog_checkpoint(v->log);
    if (!note) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    api_reply_text(r, API_OK, "text/plain; charset=utf-8", note, strlen(note));
    free(note);
}

/* {"<a_name>":a, "<b_name>":b, "path":[b64...]}; b64 is base64url without padding (SPEC §2). */
static void reply_proof(struct request *r, const char *an, uint64_t a, const char *bn, uint64_t b,
                        unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t n)
{
    json_t *path = json_array();
    for (size_t i = 0; path && i < n; i++) {
        char *h = b64_encode(proof[i], MERKLE_HASH_BYTES);
        if (!h || json_array_append_new(path, json_string(h)) != 0) {
            free(h);
            json_decref(path);
            path = NULL;
            break;
        }
        free(h);
    }
    api_reply_json(r, API_OK, path ? json_pack("{s:I, s:I, s:o}", an, (json_int_t)a, bn, (json_int_t)b, "path", path)
                                   : NULL);
}

void handle_log_inclusion(struct request *r)
{
    vault *v = r->ctx;
    uint64_t index = 0, size = 0;
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    size_t n = 0;
    if (api_query_u64(r, "index", 1, MERKLE_MAX_SIZE, &index) < 0 ||
        api_query_u64(r, "size", 1, MERKLE_MAX_SIZE, &size) < 0)
        return;
    kerr e = tlog_prove_inclusion(v->log, index, size, proof, &n);
    if (e != KERR_OK) {
        api_reply_error(r, e, e == KERR_BAD_REQUEST ? "need index < size <= the size of the latest checkpoint" : NULL);
        return;
    }
    reply_proof(r, "index", index, "size", size, proof, n);
}

void handle_log_consistency(struct request *r)
{
    vault *v = r->ctx;
    uint64_t from = 0, to = 0;
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    size_t n = 0;
    if (api_query_u64(r, "from", 1, MERKLE_MAX_SIZE, &from) < 0 || api_query_u64(r, "to", 1, MERKLE_MAX_SIZE, &to) < 0)
        return;
    kerr e = tlog_prove_consistency(v->log, from, to, proof, &n);
    if (e != KERR_OK) {
        api_reply_error(r, e, e == KERR_BAD_REQUEST ? "need 0 < from <= to <= the size of the latest checkpoint" : NULL);
        return;
    }
    reply_proof(r, "from", from, "to", to, proof, n);
}

/* GET /v1/log/entries?start=&end= — leaves [start, end) of the signed tree, at most
 * TLOG_MAX_ENTRIES a call (end is clamped to start + 1000 and to the checkpoint's size), each as
 * {index, leaf: b64url of the exact bytes}. Auditors, mayors and officers only: leaves name
 * citizens (never dossier content), so the log is not public, only its checkpoints and proofs. */
void handle_log_entries(struct request *r)
{
    vault *v = r->ctx;
    struct caller c;
    if (api_authenticate(r, &c) != 0)
        return;
    if (c.role != KROLE_AUDITOR && c.role != KROLE_MAYOR && c.role != KROLE_OFFICER) {
        api_reply_error(r, KERR_FORBIDDEN, "the log's entries are for auditors, the mayor and officers");
        return;
    }
    uint64_t start = 0, end = 0;
    if (api_query_u64(r, "start", 1, MERKLE_MAX_SIZE, &start) < 0 ||
        api_query_u64(r, "end", 1, MERKLE_MAX_SIZE, &end) < 0)
        return;
    if (end > start && end - start > TLOG_MAX_ENTRIES)
        end = start + TLOG_MAX_ENTRIES;
    json_t *arr = NULL;
    kerr e = tlog_entries(v->log, start, end, &arr);
    if (e != KERR_OK) {
        api_reply_error(r, e, e == KERR_BAD_REQUEST ? "need start < end and start < the size of the latest checkpoint"
                                                    : NULL);
        return;
    }
    api_reply_json(r, API_OK, json_pack("{s:o}", "entries", arr));
}
