/*
 * api/health.c — GET /v1/health (SPEC §6): the liveness answer {"status":"ok"}.
 *
 * It deliberately touches neither the vault nor any lock: it says the HTTP layer accepts, routes
 * and answers, so a load balancer or a test can tell a live server from a dead one cheaply.
 */
#include "api/handlers.h"

void handle_health(struct request *r)
{
    api_reply_json(r, API_OK, json_pack("{s:s}", "status", "ok"));
}
