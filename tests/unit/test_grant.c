/*
 * tests/unit/test_grant.c — the consent data layer (vault/grant.h) on a temporary store: grant
 * records round-trip, duplicates refused, lists by citizen / grantee / (grantee, citizen) in a
 * stable order, revocation (once, and its wraps gone), live grants for rotation, wraps per
 * (grant, section, epoch) and their erasure per section, access requests open → declined /
 * answered, and nothing readable in data.mdb.
 */
#include <dirent.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/test.h"
#include "policy/charter.h"
#include "policy/policy.h"
#include "vault/dossier.h"
#include "vault/grant.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static char dir[64];
static store *st;
static store_table tab[VT_COUNT_];
static char names[VT_COUNT_][16];

static void rm_dir(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    char p[512];
    if (!dd)
        return;
    while ((de = readdir(dd))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", d, de->d_name);
        unlink(p);
    }
    closedir(dd);
    rmdir(d);
}

static const char *secs_plan_wonen[] = {"plan", "wonen"};
static const char *secs_plan[] = {"plan"};
static const char *secs_schulden[] = {"schulden"};

static struct grant_rec mk(const char *id, const char *citizen, const char *grantee, const char **secs, size_t n,
                           int write, int64_t nb, int64_t exp, int64_t created)
{
    struct grant_rec g = {
        .id = id, .citizen = citizen, .grantee = grantee, .purpose = "ondersteuning", .sections = secs,
        .n_sections = n, .write = write, .not_before = nb, .expires = exp, .created = created,
        .statement = "eyJ0eXBlIjoiZ3JhbnQifQ", .signature = "c2ln",
    };
    return g;
}

static kerr put(const struct grant_rec *g)
{
    store_txn t;
    store_txn_begin(st, &t, false);
    kerr e = grant_put(&t, tab, g);
    kerr c = store_txn_commit(&t);
    return e != KERR_OK ? e : c;
}

static void test_grants(void)
{
    struct grant_rec g1 = mk("g-1", "burger-1", "wijk-anna", secs_plan_wonen, 2, 1, 1000, 5000, 900);
    g1.note = "Voor het \xc3\xa9\xc3\xa9n-loket";
    g1.request = "req-1";
    struct grant_rec g2 = mk("g-2", "burger-1", "wijk-anna", secs_plan, 1, 0, 2000, 6000, 800);
    struct grant_rec g3 = mk("g-3", "burger-2", "wijk-anna", secs_schulden, 1, 0, 1000, 3000, 700);
    struct grant_rec g4 = mk("g-4", "burger-1", "schuld-bert", secs_schulden, 1, 0, 1000, 3000, 950);

    CHECK(put(&g1) == KERR_OK && put(&g2) == KERR_OK && put(&g3) == KERR_OK && put(&g4) == KERR_OK,
          "grant_put stores four grants");

    store_txn t;
    store_txn_begin(st, &t, false);
    CHECK(grant_put(&t, tab, &g1) == KERR_CONFLICT && t.err == KERR_OK,
          "grant_put refuses an existing grant id of the citizen (409), transaction healthy");
    store_txn_abort(&t);
    struct grant_rec bad = g1;
    bad.n_sections = 0;
    store_txn_begin(st, &t, false);
    CHECK(grant_put(&t, tab, &bad) == KERR_BAD_REQUEST, "grant_put refuses a grant without sections");
    store_txn_abort(&t);
    bad = g1;
    bad.id = "Not An Id";
    store_txn_begin(st, &t, false);
    CHECK(grant_put(&t, tab, &bad) == KERR_BAD_REQUEST, "grant_put refuses an id outside the SPEC syntax");
    store_txn_abort(&t);

    struct grant_rec r;
    store_txn_begin(st, &t, true);
    CHECK(grant_get(&t, tab, "burger-1", "g-1", &r) == KERR_OK && !strcmp(r.id, "g-1") &&
              !strcmp(r.citizen, "burger-1") && !strcmp(r.grantee, "wijk-anna") &&
              !strcmp(r.purpose, "ondersteuning") && r.n_sections == 2 && !strcmp(r.sections[0], "plan") &&
              !strcmp(r.sections[1], "wonen") && r.write == 1 && r.not_before == 1000 && r.expires == 5000 &&
              r.created == 900 && !strcmp(r.request, "req-1") && !strcmp(r.note, g1.note) &&
              !strcmp(r.statement, g1.statement) && !strcmp(r.signature, "c2ln") && !r.revoked &&
              !r.revoke_statement,
          "grant_get returns every field as stored");
    grant_rec_free(&r);
    CHECK(grant_get(&t, tab, "burger-2", "g-1", &r) == KERR_NOT_FOUND && t.err == KERR_OK,
          "grant_get: a grant id of another citizen is not found (keys are per citizen)");
    CHECK(grant_get(&t, tab, "burger-1", "g-2", &r) == KERR_OK && r.request == NULL && r.note == NULL &&
              r.write == 0,
          "grant_get: optional fields absent");
    grant_rec_free(&r);

    struct grant_rec *l;
    size_t n;
    CHECK(grant_list_citizen(&t, tab, "burger-1", &l, &n) == KERR_OK && n == 3 && !strcmp(l[0].id, "g-2") &&
              !strcmp(l[1].id, "g-1") && !strcmp(l[2].id, "g-4"),
          "grant_list_citizen: all of the citizen's grants, ordered by created");
    grant_recs_free(l, n);
    CHECK(grant_list_grantee(&t, tab, "wijk-anna", &l, &n) == KERR_OK && n == 3 && !strcmp(l[0].id, "g-3") &&
              !strcmp(l[0].citizen, "burger-2") && !strcmp(l[2].id, "g-1"),
          "grant_list_grantee: every grant to the grantee, each naming its citizen");
    grant_recs_free(l, n);
    CHECK(grant_list_for(&t, tab, "wijk-anna", "burger-1", &l, &n) == KERR_OK && n == 2 &&
              !strcmp(l[0].id, "g-2") && !strcmp(l[1].id, "g-1"),
          "grant_list_for: only the grantee's grants for that citizen");
    grant_recs_free(l, n);
    CHECK(grant_list_for(&t, tab, "schuld-bert", "burger-2", &l, &n) == KERR_OK && n == 0 && l == NULL,
          "grant_list_for: none is an empty list");
    CHECK(grant_list_citizen(&t, tab, "burger-9", &l, &n) == KERR_OK && n == 0, "unknown citizen: no grants");

    /* live for rotation: at 2500, g-1 (active), g-2 (active) cover plan; at 5500 only g-2 (g-1 expired) */
    CHECK(grant_list_live_covering(&t, tab, "burger-1", "plan", 1500, &l, &n) == KERR_OK && n == 2,
          "live covering plan at 1500: the active and the pending grant");
    grant_recs_free(l, n);
    CHECK(grant_list_live_covering(&t, tab, "burger-1", "plan", 5500, &l, &n) == KERR_OK && n == 1 &&
              !strcmp(l[0].id, "g-2"),
          "live covering plan at 5500: the expired grant is not live");
    grant_recs_free(l, n);
    CHECK(grant_list_live_covering(&t, tab, "burger-1", "wonen", 1500, &l, &n) == KERR_OK && n == 1 &&
              !strcmp(l[0].id, "g-1"),
          "live covering wonen: only grants naming the section");
    grant_recs_free(l, n);

    CHECK(grant_get(&t, tab, "burger-1", "g-2", &r) == KERR_OK && grant_state_at(&r, 1999) == GRANT_PENDING &&
              grant_state_at(&r, 2000) == GRANT_ACTIVE && grant_state_at(&r, 6000) == GRANT_EXPIRED,
          "grant_state_at: pending, active from not_before, expired at expires");
    struct policy_grant pg;
    grant_policy_view(&r, &pg);
    CHECK(pg.id == r.id && pg.n_sections == 1 && !strcmp(pg.sections[0], "plan") && pg.created == 800 &&
              !pg.revoked && pg.expires == 6000,
          "grant_policy_view borrows the record's fields");
    grant_rec_free(&r);
    store_txn_abort(&t);
}

static void test_wraps_and_revoke(void)
{
    unsigned char w[KLUIS_WRAP_BYTES], got[KLUIS_WRAP_BYTES];
    store_txn t;
    size_t n = 0;

    store_txn_begin(st, &t, false);
    for (int e = 1; e <= 3; e++) {
        memset(w, 'a' + e, sizeof w);
        CHECK(grant_wrap_put(&t, tab, "burger-1", "g-1", "plan", (uint64_t)e, w) == KERR_OK, "wrap g-1 plan %d", e);
        memset(w, 'p' + e, sizeof w);
        CHECK(grant_wrap_put(&t, tab, "burger-1", "g-1", "wonen", (uint64_t)e, w) == KERR_OK, "wrap g-1 wonen %d",
              e);
    }
    memset(w, 'x', sizeof w);
    CHECK(grant_wrap_put(&t, tab, "burger-1", "g-2", "plan", 1, w) == KERR_OK &&
              grant_wrap_put(&t, tab, "burger-2", "g-3", "plan", 1, w) == KERR_OK,
          "wraps of another grant and another citizen");
    CHECK(store_txn_commit(&t) == KERR_OK, "wraps committed");

    store_txn_begin(st, &t, false);
    CHECK(grant_wrap_put(&t, tab, "burger-1", "g-1", "plan", 0, w) == KERR_BAD_REQUEST, "epoch 0 is refused");
    store_txn_abort(&t);

    store_txn_begin(st, &t, true);
    memset(w, 'a' + 2, sizeof w);
    CHECK(grant_wrap_get(&t, tab, "burger-1", "g-1", "plan", 2, got) == KERR_OK && !memcmp(got, w, sizeof w),
          "grant_wrap_get: the wrap of (grant, section, epoch)");
    CHECK(grant_wrap_get(&t, tab, "burger-1", "g-1", "plan", 4, got) == KERR_NOT_FOUND && t.err == KERR_OK,
          "grant_wrap_get: an epoch without a wrap is not found");
    store_txn_abort(&t);

    /* erasure of plan: g-1's three and g-2's one go; wonen and the other citizen stay */
    store_txn_begin(st, &t, false);
    CHECK(grant_wraps_delete_section(&t, tab, "burger-1", "plan", &n) == KERR_OK && n == 4,
          "grant_wraps_delete_section deletes every wrap of the section under every grant (%zu)", n);
    CHECK(store_txn_commit(&t) == KERR_OK, "erasure committed");
    store_txn_begin(st, &t, true);
    CHECK(grant_wrap_get(&t, tab, "burger-1", "g-1", "plan", 1, got) == KERR_NOT_FOUND &&
              grant_wrap_get(&t, tab, "burger-1", "g-2", "plan", 1, got) == KERR_NOT_FOUND,
          "after erasure the section's wraps are gone");
    CHECK(grant_wrap_get(&t, tab, "burger-1", "g-1", "wonen", 3, got) == KERR_OK &&
              grant_wrap_get(&t, tab, "burger-2", "g-3", "plan", 1, got) == KERR_OK,
          "erasure leaves other sections and other citizens alone");
    store_txn_abort(&t);

    /* revoke g-1 */
    store_txn_begin(st, &t, false);
    CHECK(grant_revoke(&t, tab, "burger-1", "g-1", 3000, "cmV2b2tl", "cmV2c2ln") == KERR_OK, "grant_revoke");
    CHECK(store_txn_commit(&t) == KERR_OK, "revoke committed");
    struct grant_rec r;
    store_txn_begin(st, &t, true);
    CHECK(grant_get(&t, tab, "burger-1", "g-1", &r) == KERR_OK && r.revoked && r.revoked_at == 3000 &&
              !strcmp(r.revoke_statement, "cmV2b2tl") && !strcmp(r.revoke_signature, "cmV2c2ln") &&
              grant_state_at(&r, 1500) == GRANT_REVOKED && grant_state_at(&r, 9999) == GRANT_REVOKED,
          "a revoked grant keeps its revoke statement and is revoked at any time");
    grant_rec_free(&r);
    CHECK(grant_wrap_get(&t, tab, "burger-1", "g-1", "wonen", 1, got) == KERR_NOT_FOUND,
          "revocation deletes the grant's wraps");
    struct grant_rec *l;
    CHECK(grant_list_live_covering(&t, tab, "burger-1", "wonen", 1500, &l, &n) == KERR_OK && n == 0,
          "a revoked grant is not live");
    /* the revoked grant left the index access decisions read, for the ended ones */
    struct grant_views gv;
    CHECK(grant_views_for(&t, tab, "wijk-anna", "burger-1", NULL, &gv) == KERR_OK && gv.n == 1 &&
              !strcmp(gv.v[0].id, "g-2") && !gv.v[0].revoked,
          "views in force: the revoked g-1 is not among them");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-anna", "burger-1", "wonen", &gv) == KERR_OK && gv.n == 2 &&
              ((!strcmp(gv.v[0].id, "g-1") && gv.v[0].revoked) || (!strcmp(gv.v[1].id, "g-1") && gv.v[1].revoked)),
          "views for a refusal on wonen: the revoked g-1 that covers it comes too");
    grant_views_free(&gv);
    CHECK(grant_view_get(&t, tab, "wijk-anna", "burger-1", "g-1", &gv) == KERR_NOT_FOUND && gv.n == 0,
          "grant_view_get: a revoked grant is not in force (the commit-time re-check: grant_revoked)");
    grant_views_free(&gv);
    CHECK(grant_list_for(&t, tab, "wijk-anna", "burger-1", &l, &n) == KERR_OK && n == 2,
          "grant_list_for still lists the revoked grant");
    grant_recs_free(l, n);
    CHECK(grant_list_grantee(&t, tab, "wijk-anna", &l, &n) == KERR_OK && n == 3,
          "grant_list_grantee too");
    grant_recs_free(l, n);
    store_txn_abort(&t);

    store_txn_begin(st, &t, false);
    CHECK(grant_revoke(&t, tab, "burger-1", "g-1", 3100, "eA", "eQ") == KERR_CONFLICT && t.err == KERR_OK,
          "revoking twice is 409 conflict, transaction healthy");
    CHECK(grant_revoke(&t, tab, "burger-1", "g-77", 3100, "eA", "eQ") == KERR_NOT_FOUND && t.err == KERR_OK,
          "revoking an unknown grant is not found");
    store_txn_abort(&t);
}

/* The ended grants a refusal reads: the newest covering the section, or one witness. */
static void test_ended_views(void)
{
    /* wijk-cor has five grants from burger-3, all revoked: created 100..500; plan by 100, 300 and
     * 400 (twice at 400: a tie), wonen by 200, schulden by 500 */
    static const char *ids[] = {"e-1", "e-2", "e-3", "e-4", "e-4b", "e-5"};
    const char **secs[] = {secs_plan, secs_plan_wonen + 1, secs_plan, secs_plan, secs_plan, secs_schulden};
    const int64_t created[] = {100, 200, 300, 400, 400, 500};
    for (size_t i = 0; i < 6; i++) {
        struct grant_rec g = mk(ids[i], "burger-3", "wijk-cor", secs[i], 1, 0, 0, 9000, created[i]);
        CHECK(put(&g) == KERR_OK, "ended: put %s", ids[i]);
        store_txn t;
        store_txn_begin(st, &t, false);
        CHECK(grant_revoke(&t, tab, "burger-3", ids[i], 1000, "cmV2", "c2ln") == KERR_OK &&
                  store_txn_commit(&t) == KERR_OK,
              "ended: revoke %s", ids[i]);
    }
    store_txn t;
    struct grant_views gv;
    store_txn_begin(st, &t, true);
    CHECK(grant_views_for(&t, tab, "wijk-cor", "burger-3", NULL, &gv) == KERR_OK && gv.n == 0,
          "ended: nothing in force");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-cor", "burger-3", "plan", &gv) == KERR_OK && gv.n == 2 &&
              gv.v[0].created == 400 && gv.v[1].created == 400 && !strcmp(gv.v[0].id, "e-4") &&
              !strcmp(gv.v[1].id, "e-4b"),
          "ended, plan: the newest covering grants only (both of created 400), not e-1/e-3");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-cor", "burger-3", "wonen", &gv) == KERR_OK && gv.n == 1 &&
              !strcmp(gv.v[0].id, "e-2"),
          "ended, wonen: the one covering it, found past newer ones");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-cor", "burger-3", "zorg", &gv) == KERR_OK && gv.n == 1 &&
              gv.v[0].revoked,
          "ended, a section none covers: one revoked grant as witness");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-cor", "burger-9", "plan", &gv) == KERR_OK && gv.n == 0,
          "ended: none for another citizen");
    grant_views_free(&gv);
    struct grant_rec *l;
    size_t n;
    CHECK(grant_list_for(&t, tab, "wijk-cor", "burger-3", &l, &n) == KERR_OK && n == 6,
          "ended: the listing has all six");
    grant_recs_free(l, n);
    store_txn_abort(&t);
}

/* The access decision as api/access.c makes it: from the grants in force, and for a refusal again
 * with what it takes of the ended ones. Writes the code and the ref (or "") into CODE and REF. */
static void decide(const struct charter *c, store_txn *t, const char *section, int64_t now, kerr *code,
                   char ref[64])
{
    struct policy_principal who = {.id = "wijk-eva", .role = KROLE_PROFESSIONAL, .active = 1};
    struct policy_decision d;
    struct grant_views gv;
    *code = KERR_INTERNAL;
    ref[0] = '\0';
    if (grant_views_for(t, tab, "wijk-eva", "burger-4", NULL, &gv) != KERR_OK) {
        grant_views_free(&gv);
        return;
    }
    *code = policy_access_decide(c, &who, "burger-4", section, 0, gv.v, gv.n, NULL, 0, now, &d);
    if (*code != KERR_OK) {
        grant_views_free(&gv);
        if (grant_views_for(t, tab, "wijk-eva", "burger-4", section, &gv) != KERR_OK) {
            grant_views_free(&gv);
            *code = KERR_INTERNAL;
            return;
        }
        *code = policy_access_decide(c, &who, "burger-4", section, 0, gv.v, gv.n, NULL, 0, now, &d);
    }
    snprintf(ref, 64, "%s", d.ref ? d.ref : ""); /* d.ref points into GV */
    grant_views_free(&gv);
}

/* Expired grants leave the grants in force (grant_end_expired) and every decision stays the same. */
static void test_end_expired(void)
{
    char doc[16384];
    FILE *f = fopen("policy/charter.example.json", "r");
    size_t len = f ? fread(doc, 1, sizeof doc - 1, f) : 0;
    if (f)
        fclose(f);
    struct jerr err = {0};
    struct charter *c = len ? charter_load(doc, len, &err) : NULL;
    CHECK(c != NULL, "expired: the example charter loads");
    if (!c)
        return;
    /* wijk-eva's grants from burger-4 at NOW = 2000: x-old and x-new (plan) have expired, x-new
     * the later; x-live (wonen) is active; x-pend (schulden) starts at 5000; x-gone (zorg) was
     * revoked; x-stay (wonen) expired too, but another grantee's */
    const int64_t now = 2000;
    struct grant_rec g[] = {
        mk("x-old", "burger-4", "wijk-eva", secs_plan, 1, 0, 0, 1000, 100),
        mk("x-new", "burger-4", "wijk-eva", secs_plan, 1, 0, 0, 1500, 300),
        mk("x-live", "burger-4", "wijk-eva", secs_plan_wonen + 1, 1, 0, 0, 9000, 200),
        mk("x-pend", "burger-4", "wijk-eva", secs_schulden, 1, 0, 5000, 9000, 250),
        mk("x-gone", "burger-4", "wijk-eva", secs_plan_wonen + 1, 1, 0, 0, 9000, 50),
        mk("x-stay", "burger-4", "wijk-fem", secs_plan_wonen + 1, 1, 0, 0, 1000, 100),
    };
    static const char *zorg[] = {"zorg"};
    g[4].sections = zorg;
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        CHECK(put(&g[i]) == KERR_OK, "expired: put %s", g[i].id);
    store_txn t;
    store_txn_begin(st, &t, false);
    CHECK(grant_revoke(&t, tab, "burger-4", "x-gone", 1000, "cmV2", "c2ln") == KERR_OK && store_txn_commit(&t) == KERR_OK,
          "expired: revoke x-gone");

    static const char *sections[] = {"plan", "wonen", "schulden", "zorg", "jeugd"};
    kerr before[5], after[5];
    char ref_before[5][64], ref_after[5][64];
    store_txn_begin(st, &t, true);
    for (size_t i = 0; i < 5; i++)
        decide(c, &t, sections[i], now, &before[i], ref_before[i]);
    store_txn_abort(&t);
    CHECK(before[0] == KERR_GRANT_EXPIRED && !strcmp(ref_before[0], "x-new") && before[1] == KERR_OK &&
              before[2] == KERR_GRANT_NOT_YET_VALID && before[3] == KERR_GRANT_REVOKED &&
              before[4] == KERR_SECTION_NOT_GRANTED,
          "expired: before, plan grant_expired (x-new), wonen allowed, schulden not yet valid, zorg revoked, "
          "jeugd not granted (%s %s %s %s %s)",
          kerr_code(before[0]), kerr_code(before[1]), kerr_code(before[2]), kerr_code(before[3]),
          kerr_code(before[4]));

    /* not yet expired at 1200: x-new stays; at NOW both expired ones move, once */
    store_txn_begin(st, &t, false);
    CHECK(grant_end_expired(&t, tab, "wijk-eva", "burger-4", "x-new", 1200) == KERR_OK && store_txn_commit(&t) == KERR_OK,
          "expired: x-new at 1200 (before its end): nothing to do");
    struct grant_views gv;
    store_txn_begin(st, &t, true);
    CHECK(grant_view_get(&t, tab, "wijk-eva", "burger-4", "x-new", &gv) == KERR_OK,
          "expired: x-new is still in force at 1200");
    grant_views_free(&gv);
    store_txn_abort(&t);
    static const char *all[] = {"x-old", "x-new", "x-live", "x-pend", "x-gone", "nonexistent"};
    store_txn_begin(st, &t, false);
    int ok = 1;
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < 6; i++)
            ok &= grant_end_expired(&t, tab, "wijk-eva", "burger-4", all[i], now) == KERR_OK;
    ok &= grant_end_expired(&t, tab, "wijk-eva", "burger-4", "x-stay", now) == KERR_OK; /* not hers */
    CHECK(ok && store_txn_commit(&t) == KERR_OK,
          "expired: grant_end_expired at NOW on every grant, twice, and on unknown ones: KERR_OK");

    store_txn_begin(st, &t, true);
    kerr e[6];
    for (size_t i = 0; i < 6; i++) {
        e[i] = grant_view_get(&t, tab, "wijk-eva", "burger-4", all[i], &gv);
        grant_views_free(&gv);
    }
    CHECK(e[0] == KERR_NOT_FOUND && e[1] == KERR_NOT_FOUND && e[2] == KERR_OK && e[3] == KERR_OK &&
              e[4] == KERR_NOT_FOUND,
          "expired: x-old and x-new left the grants in force; x-live and x-pend stay; x-gone was gone");
    CHECK(grant_view_get(&t, tab, "wijk-fem", "burger-4", "x-stay", &gv) == KERR_OK,
          "expired: another grantee's expired grant is not touched by a move for wijk-eva");
    grant_views_free(&gv);
    CHECK(grant_views_for(&t, tab, "wijk-eva", "burger-4", NULL, &gv) == KERR_OK && gv.n == 2,
          "expired: a decision now reads two grants in force, not four (%zu)", gv.n);
    grant_views_free(&gv);
    for (size_t i = 0; i < 5; i++)
        decide(c, &t, sections[i], now, &after[i], ref_after[i]);
    ok = 1;
    for (size_t i = 0; i < 5; i++)
        ok &= after[i] == before[i] && !strcmp(ref_after[i], ref_before[i]);
    CHECK(ok, "expired: every decision names the same code and grant after the move (plan: %s %s)",
          kerr_code(after[0]), ref_after[0]);
    /* a clock set back to 1200 after the move: x-new is active by its dates, and allows as it
     * would from the grants in force (the refusal path reads the newest ended one covering plan) */
    kerr back;
    char ref_back[64];
    decide(c, &t, "plan", 1200, &back, ref_back);
    CHECK(back == KERR_OK && !strcmp(ref_back, "x-new"),
          "expired: with the clock set back before its end, the moved x-new allows again (%s %s)", kerr_code(back),
          ref_back);
    struct grant_rec *l;
    size_t n;
    CHECK(grant_list_for(&t, tab, "wijk-eva", "burger-4", &l, &n) == KERR_OK && n == 5,
          "expired: the listing still has each of the five grants once (%zu)", n);
    grant_recs_free(l, n);
    store_txn_abort(&t);

    /* revoking a grant after it was moved: the ended view says revoked, still once */
    store_txn_begin(st, &t, false);
    CHECK(grant_revoke(&t, tab, "burger-4", "x-old", 2100, "cmV2", "c2ln") == KERR_OK && store_txn_commit(&t) == KERR_OK,
          "expired: a moved grant can still be revoked");
    store_txn_begin(st, &t, true);
    CHECK(grant_list_for(&t, tab, "wijk-eva", "burger-4", &l, &n) == KERR_OK && n == 5,
          "expired: after its revocation the listing has it once (%zu)", n);
    grant_recs_free(l, n);
    store_txn_abort(&t);
    charter_free(c);
}

static void test_requests(void)
{
    struct grant_request q1 = {.id = "req-1", .citizen = "burger-1", .requester = "wijk-anna",
                               .purpose = "ondersteuning", .sections = secs_plan_wonen, .n_sections = 2,
                               .write = 1, .days = 90, .note = "Graag", .created = 100,
                               .statement = "c3Q", .signature = "c2ln"};
    struct grant_request q2 = q1, q3 = q1;
    q2.id = "req-2";
    q2.created = 50;
    q2.note = NULL;
    q3.id = "req-3";
    q3.created = 200;
    store_txn t;
    store_txn_begin(st, &t, false);
    CHECK(grant_request_put(&t, tab, &q1) == KERR_OK && grant_request_put(&t, tab, &q2) == KERR_OK &&
              grant_request_put(&t, tab, &q3) == KERR_OK,
          "grant_request_put stores three requests");
    CHECK(grant_request_put(&t, tab, &q1) == KERR_CONFLICT && t.err == KERR_OK,
          "grant_request_put refuses an existing id");
    CHECK(store_txn_commit(&t) == KERR_OK, "requests committed");

    struct grant_request *l;
    size_t n;
    store_txn_begin(st, &t, true);
    CHECK(grant_request_list_open(&t, tab, "burger-1", &l, &n) == KERR_OK && n == 3 && !strcmp(l[0].id, "req-2") &&
              !strcmp(l[1].id, "req-1") && l[1].n_sections == 2 && !strcmp(l[1].note, "Graag") &&
              l[1].days == 90 && l[1].write && l[1].state == GREQ_OPEN && !strcmp(l[1].requester, "wijk-anna"),
          "grant_request_list_open: all three open, ordered by created, fields intact");
    grant_requests_free(l, n);
    CHECK(grant_request_list_open(&t, tab, "burger-2", &l, &n) == KERR_OK && n == 0,
          "another citizen has no requests");
    store_txn_abort(&t);

    store_txn_begin(st, &t, false);
    CHECK(grant_request_close(&t, tab, "burger-1", "req-1", NULL, 300) == KERR_OK, "decline req-1");
    CHECK(grant_request_close(&t, tab, "burger-1", "req-2", "g-9", 310) == KERR_OK, "answer req-2 by g-9");
    CHECK(grant_request_close(&t, tab, "burger-1", "req-1", NULL, 320) == KERR_CONFLICT && t.err == KERR_OK,
          "a declined request cannot be closed again");
    CHECK(grant_request_close(&t, tab, "burger-1", "req-2", "g-10", 320) == KERR_CONFLICT,
          "an answered request cannot be answered again");
    CHECK(grant_request_close(&t, tab, "burger-1", "req-99", NULL, 320) == KERR_NOT_FOUND && t.err == KERR_OK,
          "closing an unknown request is not found");
    CHECK(store_txn_commit(&t) == KERR_OK, "closures committed");

    struct grant_request r;
    store_txn_begin(st, &t, true);
    CHECK(grant_request_list_open(&t, tab, "burger-1", &l, &n) == KERR_OK && n == 1 && !strcmp(l[0].id, "req-3"),
          "only the still-open request is listed");
    grant_requests_free(l, n);
    CHECK(grant_request_get(&t, tab, "burger-1", "req-1", &r) == KERR_OK && r.state == GREQ_DECLINED &&
              r.closed == 300 && r.answered_by == NULL,
          "req-1 is declined");
    grant_request_free(&r);
    CHECK(grant_request_get(&t, tab, "burger-1", "req-2", &r) == KERR_OK && r.state == GREQ_ANSWERED &&
              !strcmp(r.answered_by, "g-9") && !strcmp(grant_request_state_name(r.state), "answered"),
          "req-2 is answered by g-9");
    grant_request_free(&r);
    store_txn_abort(&t);
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)sz);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    int found = memmem(buf, got, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* The key of GRANT's copy beside CITIZEN's entries (NULL GRANT: the prefix of all of them). */
static void near_key(skey *k, const char *grantee, const char *citizen, const char *grant)
{
    grant_view_copy_key(k, st, grantee, citizen, grant);
}

static void index_key(skey *k, const char *grantee, const char *citizen, const char *grant)
{
    skey_reset(k);
    skey_id(k, st, grantee, strlen(grantee));
    skey_id(k, st, citizen, strlen(citizen));
    skey_id(k, st, grant, strlen(grant));
}

/* Records of TB under PREFIX (NULL: all). */
static size_t count(store_txn *t, store_table tb, const skey *prefix)
{
    store_iter it;
    size_t n = 0;
    for (store_iter_begin(&it, t, tb, prefix, NULL); store_iter_next(&it);)
        n++;
    store_iter_end(&it);
    return n;
}

/* 1 when the by-grantee index and the copies beside the entries hold the same views: every index
 * record of GRANTEE's grants from CITIZEN named in IDS has its copy with the same bytes, and there
 * are exactly as many copies as index records. */
static int same_views(store_txn *t, const char *grantee, const char *citizen, const char *const *ids, size_t n)
{
    skey k, p;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        index_key(&k, grantee, citizen, ids[i]);
        kerr ea = store_get(t, tab[VT_GRANTS_BY_GRANTEE], &k, &a, &al);
        near_key(&k, grantee, citizen, ids[i]);
        kerr eb = store_get(t, tab[VT_ENTRIES], &k, &b, &bl);
        int same = ea == eb && (ea != KERR_OK || (al == bl && memcmp(a, b, al) == 0));
        found += ea == KERR_OK;
        if (ea == KERR_OK)
            store_val_free(a, al);
        if (eb == KERR_OK)
            store_val_free(b, bl);
        if (!same)
            return 0;
    }
    near_key(&p, grantee, citizen, NULL);
    return count(t, tab[VT_ENTRIES], &p) == found;
}

/* The ids of grant_views_for()'s views, joined by ",", into OUT. */
static void views_of(store_txn *t, const char *section, char *out, size_t cap)
{
    struct grant_views gv;
    out[0] = '\0';
    if (grant_views_for(t, tab, "wijk-gus", "burger-7", section, &gv) != KERR_OK) {
        snprintf(out, cap, "error");
    } else {
        for (size_t i = 0; i < gv.n; i++)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s%s", i ? "," : "", gv.v[i].id, gv.v[i].revoked ? "(r)" : "");
    }
    grant_views_free(&gv);
}

/* The views in force have copies beside the citizen's entries, which the decision reads, written
 * and removed with the by-grantee index's; grant_views_rebuild writes them all again from the
 * grant records, as vault_open does after an older kluisd (vault/vault.c). */
static void test_colocated(void)
{
    static const char *ids[] = {"c-live", "c-rev", "c-exp", "c-old"};
    struct grant_rec g[] = {
        mk("c-live", "burger-7", "wijk-gus", secs_plan, 1, 0, 0, 9000, 100),
        mk("c-rev", "burger-7", "wijk-gus", secs_plan_wonen + 1, 1, 0, 0, 9000, 200),
        mk("c-exp", "burger-7", "wijk-gus", secs_schulden, 1, 0, 0, 1000, 300),
        mk("c-old", "burger-7", "wijk-gus", secs_plan_wonen, 2, 1, 0, 9000, 400),
    };
    for (size_t i = 0; i < 4; i++)
        CHECK(put(&g[i]) == KERR_OK, "colocated: put %s", g[i].id);
    store_txn t;
    skey k, p;
    store_txn_begin(st, &t, true);
    CHECK(same_views(&t, "wijk-gus", "burger-7", ids, 4) && count(&t, tab[VT_ENTRIES], (near_key(&p, "wijk-gus", "burger-7", NULL), &p)) == 4,
          "colocated: each of the four grants has its copy beside the entries, the index's bytes");
    /* apart from the entries: no section's prefix covers a copy */
    skey_reset(&p);
    skey_u8(&p, DOSSIER_TAG_ENTRY);
    skey_id(&p, st, "burger-7", 8);
    skey_id(&p, st, "plan", 4);
    CHECK(count(&t, tab[VT_ENTRIES], &p) == 0, "colocated: the section plan's entry prefix covers none of them");
    unsigned char *stale = NULL;
    size_t stale_len = 0;
    near_key(&k, "wijk-gus", "burger-7", "c-rev");
    CHECK(store_get(&t, tab[VT_ENTRIES], &k, &stale, &stale_len) == KERR_OK, "colocated: c-rev's copy, kept for later");
    store_txn_abort(&t);

    store_txn_begin(st, &t, false);
    CHECK(grant_revoke(&t, tab, "burger-7", "c-rev", 500, "cmV2", "c2ln") == KERR_OK &&
              grant_end_expired(&t, tab, "wijk-gus", "burger-7", "c-exp", 2000) == KERR_OK && store_txn_commit(&t) == KERR_OK,
          "colocated: revoke c-rev, move the expired c-exp");
    char before[4][200], after[4][200];
    static const char *secs[] = {NULL, "plan", "wonen", "schulden"};
    store_txn_begin(st, &t, true);
    CHECK(same_views(&t, "wijk-gus", "burger-7", ids, 4) && count(&t, tab[VT_ENTRIES], (near_key(&p, "wijk-gus", "burger-7", NULL), &p)) == 2,
          "colocated: the revoked and the expired grant left both places, the two in force stay in both");
    for (size_t i = 0; i < 4; i++)
        views_of(&t, secs[i], before[i], sizeof before[i]);
    CHECK(!strcmp(before[0], "c-live,c-old") && !strcmp(before[2], "c-live,c-rev(r),c-old"),
          "colocated: in force c-live and c-old; for wonen the revoked c-rev as well (%s / %s)", before[0], before[2]);
    store_txn_abort(&t);

    /* the decision reads the copies: without the index record it still sees the grant, without
     * the copy it does not (both in a transaction never committed) */
    char seen[200];
    store_txn_begin(st, &t, false);
    index_key(&k, "wijk-gus", "burger-7", "c-live");
    CHECK(store_del(&t, tab[VT_GRANTS_BY_GRANTEE], &k) == KERR_OK, "colocated: drop c-live's index record (uncommitted)");
    views_of(&t, NULL, seen, sizeof seen);
    CHECK(!strcmp(seen, "c-live,c-old"), "colocated: the decision still sees c-live from its copy (%s)", seen);
    near_key(&k, "wijk-gus", "burger-7", "c-live");
    CHECK(store_del(&t, tab[VT_ENTRIES], &k) == KERR_OK, "colocated: drop its copy too (uncommitted)");
    views_of(&t, NULL, seen, sizeof seen);
    CHECK(!strcmp(seen, "c-old"), "colocated: now the decision no longer sees c-live (%s)", seen);
    store_txn_abort(&t);

    /* What a kluisd from before the copies leaves: its own index (an empty grants-in-force table
     * here), no copies beside the entries, and one stale copy: c-rev's view from before an older
     * kluisd revoked it. grant_views_rebuild writes every view again from the records. */
    store_txn_begin(st, &t, false);
    store_iter it;
    struct { skey k[64]; size_t n; } dl = {.n = 0};
    for (int round = 0; round < 2; round++) {
        store_table tb = round ? tab[VT_GRANTS_BY_GRANTEE] : tab[VT_ENTRIES];
        for (store_iter_begin(&it, &t, tb, NULL, NULL); store_iter_next(&it) && dl.n < 64;) {
            size_t kl;
            const unsigned char *kb = store_iter_key(&it, &kl);
            skey_reset(&dl.k[dl.n]);
            skey_bytes(&dl.k[dl.n++], kb, kl);
        }
        store_iter_end(&it);
        for (size_t i = 0; i < dl.n; i++)
            store_del(&t, tb, &dl.k[i]);
        dl.n = 0;
    }
    near_key(&k, "wijk-gus", "burger-7", "c-rev");
    if (stale)
        store_put(&t, tab[VT_ENTRIES], &k, stale, stale_len);
    size_t records = count(&t, tab[VT_GRANTS], NULL);
    CHECK(stale && store_txn_commit(&t) == KERR_OK, "colocated: an older kluisd's leftovers made");
    if (stale)
        store_val_free(stale, stale_len);
    store_txn_begin(st, &t, true);
    views_of(&t, NULL, seen, sizeof seen);
    store_txn_abort(&t);
    CHECK(!strcmp(seen, "c-rev"), "colocated: before the rebuild the decision would read the stale c-rev (%s)", seen);

    size_t n = 0;
    CHECK(grant_views_rebuild(st, tab, 2000, 2, &n) == KERR_OK && n == records,
          "colocated: grant_views_rebuild in batches of 2 reads all %zu grant records (%zu)", records, n);
    store_txn_begin(st, &t, true);
    for (size_t i = 0; i < 4; i++)
        views_of(&t, secs[i], after[i], sizeof after[i]);
    CHECK(!strcmp(before[0], after[0]) && !strcmp(before[1], after[1]) && !strcmp(before[2], after[2]) &&
              !strcmp(before[3], after[3]),
          "colocated: after it, the same views for every section as before (%s / %s / %s / %s)", after[0], after[1],
          after[2], after[3]);
    CHECK(same_views(&t, "wijk-gus", "burger-7", ids, 4) && count(&t, tab[VT_ENTRIES], (near_key(&p, "wijk-gus", "burger-7", NULL), &p)) == 2,
          "colocated: c-live and c-old in force with their copies; the stale copy of c-rev is gone");
    size_t in_force = count(&t, tab[VT_GRANTS_BY_GRANTEE], NULL), copies = count(&t, tab[VT_ENTRIES], NULL);
    store_txn_abort(&t);
    CHECK(in_force == copies && in_force > 2, "colocated: one copy per grant in force over the whole store (%zu, %zu)",
          in_force, copies);
    CHECK(grant_views_rebuild(st, tab, 2000, 3, &n) == KERR_OK && n == records,
          "colocated: running it again reads the same %zu records", n);
    store_txn_begin(st, &t, true);
    CHECK(count(&t, tab[VT_GRANTS_BY_GRANTEE], NULL) == in_force && count(&t, tab[VT_ENTRIES], NULL) == copies,
          "colocated: and changes nothing");
    store_txn_abort(&t);
}

int main(void)
{
    unsigned char key[STORE_KEYBYTES];
    const char *np[VT_COUNT_];
    if (sodium_init() < 0)
        return 2;
    randombytes_buf(key, sizeof key);
    strcpy(dir, "/tmp/kluis-grant-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    for (unsigned i = 0; i < VT_COUNT_; i++) {
        snprintf(names[i], sizeof names[i], "t%u", i);
        np[i] = names[i];
        tab[i] = i;
    }
    store_opts o = {.tables = np, .n_tables = VT_COUNT_};
    CHECK(store_open(&st, dir, key, &o) == KERR_OK, "temporary store opens");
    if (!st)
        return TEST_END();

    test_grants();
    test_wraps_and_revoke();
    test_ended_views();
    test_end_expired();
    test_colocated();
    test_requests();

    store_close(st);
    char db[128];
    snprintf(db, sizeof db, "%s/data.mdb", dir);
    CHECK(file_has(db, "burger-1") == 0 && file_has(db, "wijk-anna") == 0 && file_has(db, "ondersteuning") == 0 &&
              file_has(db, "Graag") == 0 && file_has(db, "req-1") == 0,
          "data.mdb holds no citizen, grantee, purpose, note or request id in clear");
    rm_dir(dir);
    return TEST_END();
}
