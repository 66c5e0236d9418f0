/*
 * api/vault.c — GET /v1/vault: who this vault is. Public keys only: the log key auditors pin, the
 * gate key the escrow's outer layer is sealed to, the mayor's office authority key the inner layer
 * is sealed to, and the charter in force by id, version and SHA-256 of its exact text.
 */
#include "api/handlers.h"
#include "vault/encoding.h"
#include "vault/vault.h"

#include <stdlib.h>

void handle_vault_info(struct request *r)
{
    vault *v = r->ctx;
    char *lpk = b64_encode(v->log_pk, 32), *gpk = b64_encode(v->gate_pk, 32), *apk = b64_encode(v->authority_pk, 32);
    const struct charter *c = vault_charter_get(v);
    json_t *j = (lpk && gpk && apk)
                    ? json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:I, s:s}}", "origin", v->origin, "log_pk", lpk,
                                "gate_pk", gpk, "authority_pk", apk, "charter", "id", c->id, "version",
                                (json_int_t)c->version, "hash", c->hash_hex)
                    : NULL;
    vault_charter_put(v, c);
    free(lpk);
    free(gpk);
    free(apk);
    api_reply_json(r, API_OK, j);
}
