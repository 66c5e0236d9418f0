/*
 * tests/unit/test_audit.c — the auditor's replay (cli/audit.c) over crafted leaf sequences: an
 * honest override history passes; each kind of dishonesty is named by its rule, at its leaf, and
 * nothing else is reported. The leaves have exactly the shapes the vault writes (SPEC §8, issue 5).
 */
#include "tests/test.h"
#include "cli/audit.h"
#include "vault/encoding.h"
#include "vault/statement.h"

#include <sodium.h>
#include <stdarg.h>

TEST_MAIN_DEFS

#define T0 INT64_C(1700000000)
#define HOUR INT64_C(3600)

static const char charter_text[] =
    "{\"charter\":\"test\",\"version\":1,\"title\":\"T\",\"principles\":[\"P\"],"
    "\"sections\":[{\"id\":\"plan\",\"title\":\"Plan\"},{\"id\":\"wonen\",\"title\":\"Wonen\"},"
    "{\"id\":\"schulden\",\"title\":\"Schulden\"}],"
    "\"purposes\":[{\"id\":\"ondersteuning\",\"title\":\"O\",\"sections\":[\"plan\",\"wonen\"],\"max_days\":180}],"
    "\"grant_roles\":[\"professional\"],\"override\":{\"authority_role\":\"mayor\",\"approver_role\":\"officer\","
    "\"approvals_required\":1,\"max_hours\":72,\"min_justification_chars\":50,"
    "\"grounds\":[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}]},"
    "\"sessions\":{\"ttl_minutes\":30},\"enrollment\":{\"code_ttl_days\":30},"
    "\"login\":{\"max_failures\":5,\"lockout_minutes\":15}}";

static const char justification[] =
    "Acuut gevaar voor de bewoner; wijkagent en huisarts maken zich ernstige zorgen over de situatie.";

enum mut {
    M_NONE,
    M_FORGED_SIG,
    M_WRONG_ROLE,
    M_KEY_LATER,
    M_GROUND,
    M_SHORT_JUST,
    M_HOURS,
    M_APPROVAL_OTHER,
    M_DUP_APPROVER,
    M_NO_QUORUM,
    M_ESCROW_EARLY,
    M_ESCROW_AFTER_CLOSE,
    M_WRAPS_EARLY,
    M_NO_EXPIRY_CLOSE,
    M_LATE_EXPIRY_CLOSE,
    M_EARLY_EXPIRY_CLOSE,
    M_BAD_INDEX,
    M_CHARTER_HASH,
    M_NOT_FIRST,
    M_BENEFICIARY_ROLE,
    M_CLOSE_BY_OFFICER,
    M_SELF_APPROVAL,
    M_ESCROW_SECTION,
    M_FORGED_APPROVAL,
    M_REPLAY,
    M_LEAF_MISMATCH,
    M_LONG_ACTIVATION,
    M_DEACTIVATED_SIGNER,
};

/* The sequence under construction. */
struct seq {
    char *leaf[64];
    size_t n;
    int bad_index_at; /* write a wrong index into this position (-1: none) */
};

static struct kluis_keys *k_admin, *k_mayor, *k_piet, *k_jan, *k_anna;
static unsigned char log_pk[32], log_sk[64];

static char *b64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    if (!s)
        abort();
    return s;
}

/* Append a leaf {"index","time","event", ...FIELDS} (FIELDS stolen). */
static void add(struct seq *s, int64_t t, const char *event, json_t *fields)
{
    json_int_t idx = (json_int_t)s->n;
    if ((int)s->n == s->bad_index_at)
        idx += 7;
    json_t *j = json_pack("{s:I, s:I, s:s}", "index", idx, "time", (json_int_t)t, "event", event);
    json_object_update(j, fields);
    json_decref(fields);
    s->leaf[s->n++] = json_dumps(j, JSON_COMPACT);
    json_decref(j);
}

static void reg(struct seq *s, int64_t t, const char *id, const char *role, const struct kluis_keys *k)
{
    char *sp = b64(k->sign_pk, 32), *bp = b64(k->box_pk, 32);
    add(s, t, "principal.registered",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "role", role, "display_name", id, "organisation", "Org",
                  "sign_pk", sp, "box_pk", bp));
    free(sp);
    free(bp);
}

/* A signed statement envelope of OBJ (stolen) by KEYS; *HASH (if non-NULL) gets BLAKE2b(S). */
static json_t *sign(json_t *obj, const struct kluis_keys *keys, unsigned char *hash)
{
    json_t *env = NULL;
    struct jerr err = {0};
    if (kstmt_sign_json(&env, obj, keys->sign_sk, &err) != 0) {
        printf("# sign: %s %s\n", err.field, err.msg);
        abort();
    }
    json_decref(obj);
    if (hash) {
        const char *st = json_string_value(json_object_get(env, "statement"));
        unsigned char buf[4096];
        size_t len = 0;
        if (b64_decode(buf, sizeof buf, &len, st, strlen(st)) != 0 || kluis_hash(hash, buf, len) != 0)
            abort();
    }
    return env;
}

static json_t *override_stmt(const char *id, const char *signer, const struct kluis_keys *k, const char *ground,
                             const char *just, int64_t hours, const char *beneficiary, unsigned char *hash)
{
    return sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:[ss], s:s, s:s, s:s, s:I}", "type", "override", "id", id,
                          "signer", signer, "issued", (json_int_t)T0, "citizen", "jan-jansen", "sections", "plan",
                          "wonen", "beneficiary", beneficiary, "ground", ground, "justification", just, "hours",
                          (json_int_t)hours),
                k, hash);
}

static json_t *approval_stmt(const char *id, const char *signer, const struct kluis_keys *k, const char *ov,
                             const unsigned char hash[32])
{
    char *h = b64(hash, 32);
    json_t *e = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-approval", "id", id, "signer",
                               signer, "issued", (json_int_t)T0 + 60, "override", ov, "statement_hash", h),
                     k, NULL);
    free(h);
    return e;
}

/* {"override":OV, ...ENV} with the envelope's statement and signature, plus EXTRA (stolen). */
static json_t *with_env(const char *ov, json_t *env, json_t *extra)
{
    json_t *f = json_pack("{s:s}", "override", ov);
    json_object_update(f, extra);
    json_decref(extra);
    json_object_set(f, "statement", json_object_get(env, "statement"));
    json_object_set(f, "signature", json_object_get(env, "signature"));
    json_decref(env);
    return f;
}

static json_t *items(const char *section)
{
    return json_pack("{s:[{s:s, s:i}]}", "items", "section", section, "epoch", 1);
}

/* The honest history, altered by M. Override o-1 is closed by the mayor; o-2 expires. */
static void history(struct seq *s, enum mut m)
{
    memset(s, 0, sizeof *s);
    s->bad_index_at = m == M_BAD_INDEX ? 9 : -1;
    char *lpk = b64(log_pk, 32);
    json_t *vc = json_pack("{s:s, s:s, s:s, s:s}", "origin", "test.example/kluis", "log_pk", lpk, "gate_pk", lpk,
                           "authority_pk", lpk);
    free(lpk);
    unsigned char ch[32];
    char hex[65];
    crypto_hash_sha256(ch, (const unsigned char *)charter_text, strlen(charter_text));
    hex_encode(hex, ch, 32);
    if (m == M_CHARTER_HASH)
        hex[0] = hex[0] == 'a' ? 'b' : 'a';
    json_t *ca = json_pack("{s:s, s:i, s:s, s:s}", "charter", "test", "version", 1, "hash", hex, "text", charter_text);
    if (m == M_NOT_FIRST) {
        add(s, T0 - 100, "charter.adopted", ca);
        add(s, T0 - 100, "vault.created", vc);
    } else {
        add(s, T0 - 100, "vault.created", vc);
        add(s, T0 - 100, "charter.adopted", ca);
    }
    reg(s, T0 - 100, "beheer", "admin", k_admin);
    if (m != M_KEY_LATER)
        reg(s, T0 - 50, "burgemeester", "mayor", k_mayor);
    reg(s, T0 - 50, "fg-piet", "officer", k_piet);
    reg(s, T0 - 50, "fg-jan", "officer", k_jan);
    reg(s, T0 - 50, "wijk-anna", "professional", k_anna);
    if (m == M_DEACTIVATED_SIGNER)
        add(s, T0 - 10, "principal.deactivated", json_pack("{s:s, s:s}", "id", "burgemeester", "role", "mayor"));

    /* ---- o-1: requested, approved, activated, escrow, wraps, closed by the mayor ---- */
    unsigned char h1[32], hother[32];
    json_t *req = m == M_WRONG_ROLE ? override_stmt("o-1", "fg-jan", k_jan, "acuut-gevaar", justification, 24,
                                                    "wijk-anna", h1)
                                    : override_stmt("o-1", "burgemeester", k_mayor,
                                                    m == M_GROUND ? "zomaar" : "acuut-gevaar",
                                                    m == M_SHORT_JUST ? "Gevaar, snel." : justification,
                                                    m == M_HOURS ? 100 : 24,
                                                    m == M_BENEFICIARY_ROLE ? "fg-jan" : "wijk-anna", h1);
    if (m == M_FORGED_SIG) {
        char *sig = strdup(json_string_value(json_object_get(req, "signature")));
        sig[5] = sig[5] == 'A' ? 'B' : 'A';
        json_object_set_new(req, "signature", json_string(sig));
        free(sig);
    }
    if (m == M_ESCROW_EARLY) {
        json_t *e = items("plan");
        json_object_set_new(e, "override", json_string("o-1"));
        add(s, T0 + 1, "override.escrow-released", e);
    }
    add(s, T0, "override.requested",
        with_env("o-1", req, json_pack("{s:s}", "citizen", m == M_LEAF_MISMATCH ? "piet-pietersen" : "jan-jansen")));
    if (m == M_KEY_LATER)
        reg(s, T0 + 10, "burgemeester", "mayor", k_mayor);
    if (m == M_WRAPS_EARLY) {
        json_t *f = items("plan");
        json_object_set_new(f, "override", json_string("o-1"));
        add(s, T0 + 20, "override.wraps-uploaded", f);
    }
    if (m != M_NO_QUORUM) {
        unsigned char *hh = h1;
        if (m == M_APPROVAL_OTHER) {
            json_decref(override_stmt("o-9", "burgemeester", k_mayor, "acuut-gevaar", justification, 48, "wijk-anna",
                                      hother));
            hh = hother;
        }
        json_t *ap = m == M_SELF_APPROVAL ? approval_stmt("a-1", "burgemeester", k_mayor, "o-1", hh)
                                          : approval_stmt("a-1", "fg-piet", k_piet, "o-1", hh);
        if (m == M_FORGED_APPROVAL) /* signed by fg-jan's key, claiming fg-piet */
            ap = (json_decref(ap), approval_stmt("a-1", "fg-piet", k_jan, "o-1", hh));
        add(s, T0 + 60, "override.approved",
            with_env("o-1", ap, json_pack("{s:s}", "approver", m == M_SELF_APPROVAL ? "burgemeester" : "fg-piet")));
        if (m == M_DUP_APPROVER)
            add(s, T0 + 70, "override.approved",
                with_env("o-1", approval_stmt("a-2", "fg-piet", k_piet, "o-1", h1), json_pack("{s:s}", "approver",
                                                                                              "fg-piet")));
    }
    int64_t act = T0 + 60;
    add(s, act, "override.activated",
        json_pack("{s:s, s:I, s:I}", "override", "o-1", "activated", (json_int_t)act, "expires",
                  (json_int_t)(act + (m == M_LONG_ACTIVATION ? 30 : 24) * HOUR)));
    json_t *f = items(m == M_ESCROW_SECTION ? "schulden" : "plan");
    json_object_set_new(f, "override", json_string("o-1"));
    add(s, act + 30, "override.escrow-released", f);
    f = items("plan");
    json_object_set_new(f, "override", json_string("o-1"));
    add(s, act + 40, "override.wraps-uploaded", f);
    json_t *close = m == M_CLOSE_BY_OFFICER
                        ? sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-close", "id", "c-1",
                                         "signer", "fg-jan", "issued", (json_int_t)act + HOUR, "override", "o-1",
                                         "reason", "Gevaar geweken"),
                               k_jan, NULL)
                        : sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-close", "id", "c-1",
                                         "signer", "burgemeester", "issued", (json_int_t)act + HOUR, "override", "o-1",
                                         "reason", "Gevaar geweken"),
                               k_mayor, NULL);
    add(s, act + HOUR, "override.closed", with_env("o-1", close, json_pack("{s:s}", "reason", "closed")));
    if (m == M_ESCROW_AFTER_CLOSE) {
        f = items("plan");
        json_object_set_new(f, "override", json_string("o-1"));
        add(s, act + HOUR + 5, "override.escrow-released", f);
    }

    /* ---- o-2: 1 hour, closed by expiry (by the beneficiary's colleague: nobody) ---- */
    unsigned char h2[32];
    int64_t t2 = T0 + 2 * HOUR;
    json_t *req2 = override_stmt("o-2", "burgemeester", k_mayor, "acuut-gevaar", justification, 1, "wijk-anna", h2);
    add(s, t2, "override.requested", with_env("o-2", req2, json_pack("{s:s}", "citizen", "jan-jansen")));
    json_t *ap2 = approval_stmt(m == M_REPLAY ? "a-1" : "a-3", "fg-jan", k_jan, "o-2", h2);
    add(s, t2 + 10, "override.approved", with_env("o-2", ap2, json_pack("{s:s}", "approver", "fg-jan")));
    add(s, t2 + 10, "override.activated",
        json_pack("{s:s, s:I, s:I}", "override", "o-2", "activated", (json_int_t)(t2 + 10), "expires",
                  (json_int_t)(t2 + 10 + HOUR)));
    int64_t exp2 = t2 + 10 + HOUR;
    if (m != M_NO_EXPIRY_CLOSE) {
        int64_t tc = m == M_LATE_EXPIRY_CLOSE ? exp2 + 600 : m == M_EARLY_EXPIRY_CLOSE ? exp2 - 600 : exp2 + 30;
        add(s, tc, "override.closed", json_pack("{s:s, s:s}", "override", "o-2", "reason", "expired"));
    }
}

static void free_seq(struct seq *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->leaf[i]);
}

/* Replay M's history; NOW well after everything. */
static struct audit *replay(enum mut m)
{
    struct seq s;
    history(&s, m);
    struct audit *a = audit_new("test.example/kluis", log_pk);
    for (size_t i = 0; a && i < s.n; i++)
        if (audit_leaf(a, (const unsigned char *)s.leaf[i], strlen(s.leaf[i])) != 0)
            abort();
    if (!a || audit_finish(a, T0 + 100 * HOUR) != 0)
        abort();
    free_seq(&s);
    return a;
}

static void show(const struct audit *a)
{
    size_t n;
    const struct audit_violation *v = audit_violations(a, &n);
    for (size_t i = 0; i < n; i++)
        printf("#   leaf %llu: %s: %s\n", (unsigned long long)v[i].index, v[i].rule, v[i].detail);
}

/* M yields RULE at leaf INDEX (-1: any) and no rule outside ALSO (NULL-terminated, may be NULL). */
static void expect(enum mut m, const char *name, const char *rule, long index, const char *const *also)
{
    struct audit *a = replay(m);
    size_t n;
    const struct audit_violation *v = audit_violations(a, &n);
    int found = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].rule, rule) == 0 && (index < 0 || (long)v[i].index == index))
            found = 1;
        else if (strcmp(v[i].rule, rule) != 0) {
            int ok = 0;
            for (size_t k = 0; also && also[k]; k++)
                ok |= strcmp(also[k], v[i].rule) == 0;
            other += !ok;
        }
    }
    CHECK(found, "%s: named as %s", name, rule);
    CHECK(other == 0, "%s: nothing else reported", name);
    if (!found || other || getenv("AUDIT_SHOW"))
        show(a);
    audit_free(a);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    k_admin = kluis_keys_new();
    k_mayor = kluis_keys_new();
    k_piet = kluis_keys_new();
    k_jan = kluis_keys_new();
    k_anna = kluis_keys_new();
    if (!k_admin || !k_mayor || !k_piet || !k_jan || !k_anna || kluis_keys_generate(k_admin) != 0 ||
        kluis_keys_generate(k_mayor) != 0 || kluis_keys_generate(k_piet) != 0 || kluis_keys_generate(k_jan) != 0 ||
        kluis_keys_generate(k_anna) != 0)
        return 1;
    crypto_sign_keypair(log_pk, log_sk);

    /* the honest history */
    struct audit *a = replay(M_NONE);
    size_t n;
    audit_violations(a, &n);
    CHECK(n == 0, "an honest override history passes");
    if (n)
        show(a);
    struct audit_stats st;
    audit_get_stats(a, &st);
    CHECK(st.overrides == 2 && st.principals == 5 && st.charters == 1, "stats: 2 overrides, 5 principals, 1 charter");
    json_t *ov = audit_overrides_json(a);
    CHECK(ov && json_array_size(ov) == 2, "one summary per override");
    json_t *o1 = json_array_get(ov, 0), *o2 = json_array_get(ov, 1);
    CHECK(o1 && !strcmp(json_string_value(json_object_get(o1, "verdict")), "ok") &&
              !strcmp(json_string_value(json_object_get(o1, "state")), "closed") &&
              !strcmp(json_string_value(json_object_get(o1, "closed_by")), "burgemeester") &&
              !strcmp(json_string_value(json_array_get(json_object_get(o1, "approvals"), 0)), "fg-piet"),
          "o-1 summary: closed by the mayor, approved by fg-piet, ok");
    CHECK(o2 && !strcmp(json_string_value(json_object_get(o2, "close_reason")), "expired"),
          "o-2 summary: closed by expiry");
    CHECK(o1 && !strcmp(json_string_value(json_object_get(o1, "ground_title")), "Acuut gevaar") &&
              json_array_size(json_object_get(o1, "rules")) == 0 &&
              json_integer_value(json_object_get(json_object_get(o1, "charter"), "version")) == 1 &&
              json_integer_value(json_object_get(o1, "requested_at")) == T0 &&
              json_integer_value(json_object_get(o1, "active_seconds")) == HOUR,
          "o-1 summary: ground title from the charter, no rules broken, charter v1, active one hour until its close");
    CHECK(o2 && json_integer_value(json_object_get(o2, "active_seconds")) == HOUR,
          "o-2 summary: active until its expiry, not until the sweeper's leaf");
    json_decref(ov);
    json_t *d = audit_override_detail(a, "o-1");
    const json_t *hist = json_object_get(d, "history");
    int order = json_array_size(hist) == 6, verified = 0;
    for (size_t i = 0; i < json_array_size(hist); i++) {
        const json_t *h = json_array_get(hist, i), *stj = json_object_get(h, "statement");
        order &= json_integer_value(json_object_get(h, "index")) == (json_int_t)(7 + i);
        verified += stj && !strcmp(json_string_value(json_object_get(stj, "signature")), "verified");
    }
    CHECK(d && order && verified == 3, "detail: leaves 7..12 in order, three signatures verified");
    CHECK(d && !strcmp(json_string_value(json_object_get(json_object_get(json_array_get(hist, 5), "statement"),
                                                         "reason")),
                       "Gevaar geweken") &&
              !strcmp(json_string_value(json_object_get(json_object_get(json_array_get(hist, 1), "statement"),
                                                        "signer_role")),
                      "officer"),
          "detail: the close reason and the approver's role");
    CHECK(d && json_integer_value(json_object_get(json_object_get(d, "charter_rules"), "max_hours")) == 72 &&
              json_array_size(json_object_get(d, "findings")) == 0 &&
              !strcmp(json_string_value(json_object_get(d, "verdict")), "ok"),
          "detail: the charter's rules as they applied, no findings, ok");
    json_decref(d);
    CHECK(!audit_override_detail(a, "o-9") && !audit_override_known(a, "o-9") && audit_override_known(a, "o-2"),
          "detail: an override never requested is unknown");
    audit_free(a);

    /* the findings of an override sit at the leaf where they were found */
    a = replay(M_NO_QUORUM);
    d = audit_override_detail(a, "o-1");
    hist = json_object_get(d, "history");
    const json_t *h8 = json_array_get(hist, 1);
    CHECK(d && json_integer_value(json_object_get(h8, "index")) == 8 &&
              !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(h8, "violations"), 0), "rule")),
                      "activation-quorum") &&
              json_array_size(json_object_get(d, "findings")) == 1 &&
              !strcmp(json_string_value(json_object_get(d, "verdict")), "violation") &&
              !strcmp(json_string_value(json_array_get(json_object_get(d, "rules"), 0)), "activation-quorum"),
          "detail: activation without quorum marked at the activation leaf");
    json_decref(d);
    ov = audit_overrides_json(a);
    CHECK(ov && !strcmp(json_string_value(json_array_get(json_object_get(json_array_get(ov, 0), "rules"), 0)),
                        "activation-quorum") &&
              json_array_size(json_object_get(json_array_get(ov, 1), "rules")) == 0,
          "summary: the rules are charged to the override that broke them only");
    json_decref(ov);
    audit_free(a);
    a = replay(M_FORGED_SIG);
    d = audit_override_detail(a, "o-1");
    CHECK(d && !strcmp(json_string_value(json_object_get(
                           json_object_get(json_array_get(json_object_get(d, "history"), 0), "statement"), "signature")),
                       "does not verify"),
          "detail: a forged request signature is shown as not verifying");
    json_decref(d);
    audit_free(a);

    /* a pinned key or origin other than the log's own */
    struct seq s;
    history(&s, M_NONE);
    unsigned char other_pk[32] = {1};
    a = audit_new("other.example/kluis", other_pk);
    CHECK(a && audit_leaf(a, (const unsigned char *)s.leaf[0], strlen(s.leaf[0])) == 0 &&
              audit_has(a, "vault-created") && audit_violations(a, &n) && n == 2,
          "vault.created must name the pinned origin and log key (two violations)");
    audit_free(a);
    free_seq(&s);
    a = audit_new(NULL, NULL);
    CHECK(a && audit_finish(a, T0) == 0 && audit_has(a, "vault-created"), "an empty log is a violation");
    audit_free(a);
    a = audit_new(NULL, NULL);
    CHECK(a && audit_leaf(a, (const unsigned char *)"{\"index\":0,\"index\":0}", 22) == 0 && audit_has(a, "leaf-json"),
          "a leaf with a duplicate key is not JSON the auditor accepts");
    audit_free(a);

    /* a detail quoting leaf text cut inside a character stays valid UTF-8 (the --json report) */
    {
        char lf[256];
        snprintf(lf, sizeof lf, "{\"index\":0,\"time\":1,\"event\":\"%s\xc3\xa9\xc3\xa9\"}",
                 "x23456789x23456789x23456789x23456789x23456789x23456789x2345678"); /* 59 + 2-byte chars */
        a = audit_new(NULL, NULL);
        const struct audit_violation *vv = NULL;
        int valid = 1;
        if (a && audit_leaf(a, (const unsigned char *)lf, strlen(lf)) == 0)
            vv = audit_violations(a, &n);
        for (size_t i = 0; vv && i < n; i++) {
            json_t *js = json_string(vv[i].detail);
            valid &= js != NULL;
            json_decref(js);
        }
        CHECK(vv && audit_has(a, "unknown-event") && valid, "violation details are valid UTF-8 even when cut");
        audit_free(a);
    }

    static const char *const quorum[] = {"activation-quorum", NULL};
    static const char *const approval_bad[] = {"activation-quorum", "wrong-role", NULL};
    static const char *const replay_also[] = {"activation-quorum", NULL};
    expect(M_FORGED_SIG, "forged request signature", "bad-signature", 7, NULL);
    expect(M_WRONG_ROLE, "override requested by an officer", "wrong-role", 7, NULL);
    expect(M_KEY_LATER, "mayor's key registered after the request", "signer-unknown", 6, NULL);
    expect(M_GROUND, "unknown ground", "ground-unknown", 7, NULL);
    expect(M_SHORT_JUST, "short justification", "justification-too-short", 7, NULL);
    expect(M_HOURS, "hours beyond the charter", "hours-exceed", 7, NULL);
    expect(M_APPROVAL_OTHER, "approval of a different statement", "approval-statement", 8, quorum);
    expect(M_DUP_APPROVER, "duplicate approver", "approval-duplicate", 9, NULL);
    expect(M_NO_QUORUM, "activation before quorum", "activation-quorum", 8, NULL);
    expect(M_ESCROW_EARLY, "escrow released before the request/activation", "override-unknown", 7, NULL);
    expect(M_WRAPS_EARLY, "wraps uploaded before activation", "wraps-not-active", 8, NULL);
    expect(M_ESCROW_AFTER_CLOSE, "escrow released after close", "after-close", 13, NULL);
    expect(M_NO_EXPIRY_CLOSE, "missing expiry closure", "expiry-closure-missing", 16, NULL);
    expect(M_LATE_EXPIRY_CLOSE, "late expiry closure", "expiry-closure-late", 16, NULL);
    expect(M_EARLY_EXPIRY_CLOSE, "closed as expired before expiry", "closed-early", 16, NULL);
    expect(M_BAD_INDEX, "a leaf with the wrong index", "leaf-index", 9, NULL);
    expect(M_CHARTER_HASH, "charter text not matching its hash", "charter-hash", 1, NULL);
    expect(M_NOT_FIRST, "vault.created not first", "vault-created", 0, NULL);
    expect(M_BENEFICIARY_ROLE, "beneficiary not a professional", "beneficiary-role", 7, NULL);
    expect(M_CLOSE_BY_OFFICER, "closed by an officer", "wrong-role", 12, NULL);
    expect(M_SELF_APPROVAL, "the mayor approving their own request", "approval-self", 8, approval_bad);
    expect(M_ESCROW_SECTION, "escrow of a section the override does not cover", "escrow-section", 10, NULL);
    expect(M_FORGED_APPROVAL, "approval signed with another officer's key", "bad-signature", 8, quorum);
    expect(M_REPLAY, "an approval statement id reused", "statement-replay", 14, replay_also);
    expect(M_LEAF_MISMATCH, "leaf citizen differs from the statement", "leaf-mismatch", 7, NULL);
    expect(M_LONG_ACTIVATION, "active longer than the hours asked", "activation-times", 9, NULL);
    expect(M_DEACTIVATED_SIGNER, "request by a deactivated mayor", "signer-inactive", 8, NULL);

    /* escrow before activation (request known, not yet active) */
    {
        struct seq q;
        history(&q, M_NONE);
        /* swap leaves 9 (activated) and 10 (escrow), fixing their indexes */
        struct audit *b = audit_new(NULL, NULL);
        for (size_t i = 0; i < q.n; i++) {
            size_t src = i == 9 ? 10 : i == 10 ? 9 : i;
            json_t *j = json_loads(q.leaf[src], 0, NULL);
            json_object_set_new(j, "index", json_integer((json_int_t)i));
            char *t = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            if (audit_leaf(b, (const unsigned char *)t, strlen(t)) != 0)
                abort();
            free(t);
        }
        if (audit_finish(b, T0 + 100 * HOUR) != 0)
            abort();
        CHECK(audit_has(b, "escrow-not-active"), "escrow released before activation is named escrow-not-active");
        audit_free(b);
        free_seq(&q);
    }

    kluis_keys_free(k_admin);
    kluis_keys_free(k_mayor);
    kluis_keys_free(k_piet);
    kluis_keys_free(k_jan);
    kluis_keys_free(k_anna);
    return TEST_END();
}
