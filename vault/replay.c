/*
 * vault/replay.c — the statement-id registry (see replay.h). The value is only the claim time;
 * the key's existence is the fact that matters.
 */
#include "vault/replay.h"

#include <string.h>

#include "vault/crypto.h"
#include "vault/vault.h"

static int make_key(struct vault *v, skey *k, enum kstmt_type type, const char *id)
{
    if ((unsigned)type >= KSTMT_TYPE_COUNT_ || !kluis_id_len(id))
        return -1;
    skey_reset(k);
    skey_u8(k, (uint8_t)type);
    skey_id(k, v->st, id, strlen(id));
    return 0;
}

kerr vault_statement_id_used(struct vault *v, store_txn *t, enum kstmt_type type, const char *id)
{
    skey k;
    unsigned char val[8];
    size_t len = 0;
    if (make_key(v, &k, type, id) != 0)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    kerr e = store_get_buf(t, v->tab[VT_STATEMENT_IDS], &k, val, sizeof val, &len);
    if (e == KERR_NOT_FOUND)
        return KERR_OK;
    return e == KERR_OK ? KERR_REPLAY : e;
}

kerr vault_claim_statement_id(struct vault *v, store_txn *t, enum kstmt_type type, const char *id, int64_t now)
{
    kerr e = vault_statement_id_used(v, t, type, id);
    if (e != KERR_OK)
        return store_txn_fail(t, e);
    skey k;
    unsigned char val[8];
    (void)make_key(v, &k, type, id);
    store_be64_put(val, (uint64_t)now);
    return store_put(t, v->tab[VT_STATEMENT_IDS], &k, val, sizeof val);
}
