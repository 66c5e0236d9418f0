/*
 * api/handlers.h — every handler of kluisd's route table (api/router.c), one file per resource.
 *
 * Each handler answers one route of SPEC §6 through the reply helpers of api/api.h; it finds the
 * application state (the vault) in r->ctx and its path captures in r->param[].
 */
#ifndef KLUIS_HANDLERS_H
#define KLUIS_HANDLERS_H

#include "api/api.h"

/** GET /v1/health → 200 {"status":"ok"} (api/health.c). Touches no state. */
void handle_health(struct request *r);

/** GET /v1/vault → {"origin","log_pk","gate_pk","authority_pk","charter":{...}} (api/vault.c). */
void handle_vault_info(struct request *r);

/** GET /v1/charter → the charter in force (api/charter.c). */
void handle_charter_get(struct request *r);

/** GET /v1/log/checkpoint → text/plain signed checkpoint, SPEC §8 (api/log.c). */
void handle_log_checkpoint(struct request *r);

/** GET /v1/log/proof/inclusion?index=&size= → {index, size, path} (api/log.c). */
void handle_log_inclusion(struct request *r);

/** GET /v1/log/proof/consistency?from=&to= → {from, to, path} (api/log.c). */
void handle_log_consistency(struct request *r);

#endif
