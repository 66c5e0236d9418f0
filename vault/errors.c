/* vault/errors.c — lookups into the one error table. */
#include "vault/errors.h"

static const struct {
    const char *code;
    int status;
    const char *msg;
} table[KERR_COUNT_] = {
    [KERR_OK] = {"ok", 200, "OK"},
#define X(e, c, s, m) [KERR_##e] = {c, s, m},
#include "vault/errors.def"
#undef X
};

static kerr clamp(kerr e) { return ((unsigned)e < KERR_COUNT_) ? e : KERR_INTERNAL; }
const char *kerr_code(kerr e) { return table[clamp(e)].code; }
int kerr_status(kerr e) { return table[clamp(e)].status; }
const char *kerr_message(kerr e) { return table[clamp(e)].msg; }
