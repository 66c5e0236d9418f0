/*
 * api/charter.c — GET /v1/charter: the charter in force, byte for byte as adopted, so that its
 * SHA-256 equals the hash in GET /v1/vault and in the charter.adopted log leaf.
 */
#include "api/handlers.h"
#include "vault/vault.h"

void handle_charter_get(struct request *r)
{
    vault *v = r->ctx;
    const struct charter *c = vault_charter_get(v);
    api_reply_text(r, API_OK, "application/json", c->bytes, c->len);
    vault_charter_put(v, c);
}
