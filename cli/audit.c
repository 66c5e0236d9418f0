/*
 * cli/audit.c — the auditor's replay of the transparency log (cli/audit.h). It owns the model an
 * honest vault must have had at each leaf: the charter in force, the principals with their keys,
 * roles and activity, every override with its state machine (pending → active → closed), and the
 * statement ids already used. Each leaf is checked against that model as it stood just before the
 * leaf, then applied. Nothing here trusts the vault: keys come only from earlier leaves, and the
 * leaves themselves were tied to the pinned log key by the caller.
 */
#include "cli/audit.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/charter.h"
#include "policy/policy.h"
#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/statement.h"

/* ---- a small string → index map (open addressing), so big logs stay linear ------------------ */

struct smap {
    char **keys;
    size_t *vals;
    size_t cap, n;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Index stored for KEY, or (size_t)-1. */
static size_t smap_get(const struct smap *m, const char *key)
{
    if (!m->cap)
        return (size_t)-1;
    for (size_t i = fnv(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return (size_t)-1;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

static int smap_put(struct smap *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        char **nk = calloc(ncap, sizeof *nk);
        size_t *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = fnv(m->keys[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = ncap;
    }
    size_t i = fnv(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(key)))
            return -1;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- the model ------------------------------------------------------------------------------ */

struct principal {
    char id[KLUIS_ID_MAX + 1];
    enum krole role;
    int active;
    unsigned char sign_pk[32];
    uint64_t registered; /* leaf index */
};

enum ov_state { OV_PENDING, OV_ACTIVE, OV_CLOSED };

struct override {
    char id[KLUIS_ID_MAX + 1];
    char citizen[KLUIS_ID_MAX + 1];
    struct kstmt req;          /* the request statement (parsed; sections, ground, ...) */
    int req_ok;                /* req parsed */
    unsigned char hash[32];    /* BLAKE2b-256 of its exact bytes: what approvals sign */
    char **approvers;          /* valid, distinct approvals */
    size_t n_approvers;
    enum ov_state state;
    int was_active;
    int64_t activated, expires, closed_at;
    char close_reason[16];
    char closed_by[KLUIS_ID_MAX + 1];
    uint64_t requested;        /* leaf index */
    size_t escrow, wraps;      /* leaves */
    size_t n_viol;
    int late_flagged;          /* expiry-closure-missing/late already reported */
    char ground_title[128];    /* the ground's title in the charter in force at the request */
    json_t *rules;             /* that charter's override rules, as they applied (audit show) */
    json_t *history;           /* every leaf about this override: [{index, time, event, ...}] */
};

/* What the current leaf's statement turned out to be, for the override's history. */
enum sig_status { SIG_NONE, SIG_VERIFIED, SIG_BAD, SIG_UNKNOWN_SIGNER, SIG_UNPARSED };

struct audit {
    char *origin;
    unsigned char log_pk[32];
    int have_pk;
    uint64_t n;                /* leaves seen: the index the next leaf must carry */
    int64_t time;              /* the current leaf's time */
    struct charter *charter;   /* in force */
    size_t n_charters;
    struct principal *p;
    size_t np, pcap;
    struct smap pidx;
    struct override **ov;
    size_t nov, ovcap;
    struct smap ovidx;
    struct smap stmt_ids;      /* "type\nid" of every statement seen */
    size_t n_active;           /* overrides in OV_ACTIVE: overdue() scans only when some are */
    struct audit_violation *v;
    struct override **vov;     /* vov[i]: the override violation i was charged to, or NULL */
    size_t nv, vcap;
    int64_t now;               /* audit_finish()'s clock (0 before) */
    struct {                   /* the statement of the leaf being checked */
        enum sig_status status;
        char type[32], id[KLUIS_ID_MAX + 1], signer[KLUIS_ID_MAX + 1], role[16];
        char reason[256];      /* an override-close statement's reason (cut) */
        int64_t issued;
    } cur;
    int oom;
};

/* Make S valid UTF-8 in place: a detail quotes leaf text cut at a byte count ("%.60s"), which may
 * split a character, and an invalid string could not be put into the --json report. Every byte of
 * an invalid or cut sequence becomes '?'. */
static void utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        size_t k = 1;
        while (n && k < n && (p[k] & 0xc0) == 0x80)
            k++;
        int bad = n == 0 || k < n || (n == 2 && *p < 0xc2) || (n == 3 && *p == 0xe0 && p[1] < 0xa0) ||
                  (n == 3 && *p == 0xed && p[1] >= 0xa0) || (n == 4 && *p == 0xf0 && p[1] < 0x90) ||
                  (n == 4 && (*p > 0xf4 || (*p == 0xf4 && p[1] >= 0x90)));
        if (bad) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static void __attribute__((format(printf, 4, 5)))
viol(struct audit *a, struct override *o, const char *rule, const char *fmt, ...)
{
    if (a->nv == a->vcap) {
        size_t ncap = a->vcap ? a->vcap * 2 : 16;
        struct audit_violation *nvv = realloc(a->v, ncap * sizeof *nvv);
        if (nvv)
            a->v = nvv;
        struct override **nvo = nvv ? realloc(a->vov, ncap * sizeof *nvo) : NULL;
        if (!nvv || !nvo) {
            a->oom = 1;
            return;
        }
        a->vov = nvo;
        a->vcap = ncap;
    }
    a->vov[a->nv] = o;
    struct audit_violation *x = &a->v[a->nv++];
    x->index = a->n;
    snprintf(x->rule, sizeof x->rule, "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->detail, sizeof x->detail, fmt, ap);
    va_end(ap);
    utf8_fix(x->detail);
    if (o)
        o->n_viol++;
}

struct audit *audit_new(const char *origin, const unsigned char *log_pk)
{
    struct audit *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (origin && !(a->origin = strdup(origin))) {
        free(a);
        return NULL;
    }
    if (log_pk) {
        memcpy(a->log_pk, log_pk, 32);
        a->have_pk = 1;
    }
    return a;
}

static struct principal *pfind(struct audit *a, const char *id)
{
    size_t i = id ? smap_get(&a->pidx, id) : (size_t)-1;
    return i == (size_t)-1 ? NULL : &a->p[i];
}

static struct override *ofind(struct audit *a, const char *id)
{
    size_t i = id ? smap_get(&a->ovidx, id) : (size_t)-1;
    return i == (size_t)-1 ? NULL : a->ov[i];
}

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- vault and charter ---------------------------------------------------------------------- */

static void on_vault_created(struct audit *a, const json_t *j)
{
    if (a->n != 0) {
        viol(a, NULL, "vault-created", "a second vault.created (only leaf 0 may be one)");
        return;
    }
    const char *origin = sget(j, "origin"), *lpk = sget(j, "log_pk");
    unsigned char pk[32];
    if (!origin || !lpk || !sget(j, "gate_pk") || !sget(j, "authority_pk") || b64_decode_exact(pk, 32, lpk) != 0) {
        viol(a, NULL, "vault-created", "vault.created lacks origin or a 32-byte log_pk, gate_pk, authority_pk");
        return;
    }
    if (a->origin && strcmp(origin, a->origin) != 0)
        viol(a, NULL, "vault-created", "vault.created names origin '%.100s', not the pinned '%.100s'", origin,
             a->origin);
    if (a->have_pk && sodium_memcmp(pk, a->log_pk, 32) != 0)
        viol(a, NULL, "vault-created", "vault.created carries another log key than the pinned one");
}

static void on_charter(struct audit *a, const json_t *j)
{
    const char *id = sget(j, "charter"), *hash = sget(j, "hash");
    const json_t *text = json_object_get(j, "text");
    const json_t *ver = json_object_get(j, "version");
    if (!id || !hash || !json_is_string(text) || !json_is_integer(ver)) {
        viol(a, NULL, "charter-load", "charter.adopted lacks charter, version, hash or text");
        return;
    }
    const char *t = json_string_value(text);
    size_t len = json_string_length(text);
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof h + 1];
    crypto_hash_sha256(h, (const unsigned char *)t, len);
    hex_encode(hex, h, sizeof h);
    if (strcmp(hex, hash) != 0)
        viol(a, NULL, "charter-hash", "charter %.64s: the text hashes to %.16s..., the leaf says %.16s...", id, hex,
             hash);
    struct jerr err = {0};
    struct charter *c = charter_load(t, len, &err);
    if (!c) {
        viol(a, NULL, "charter-load", "charter %.64s does not load: %.100s at '%.60s'", id, err.msg, err.field);
        return;
    }
    if (strcmp(c->id, id) != 0 || c->version != json_integer_value(ver))
        viol(a, NULL, "charter-fields", "the leaf names charter %.64s version %lld, the text %.64s version %lld", id,
             (long long)json_integer_value(ver), c->id, (long long)c->version);
    if (a->charter && c->version <= a->charter->version)
        viol(a, NULL, "charter-version", "charter version %lld adopted after version %lld", (long long)c->version,
             (long long)a->charter->version);
    charter_free(a->charter);
    a->charter = c;
    a->n_charters++;
}

/* ---- principals ----------------------------------------------------------------------------- */

static void on_registered(struct audit *a, const json_t *j)
{
    const char *id = sget(j, "id"), *role = sget(j, "role"), *spk = sget(j, "sign_pk"), *bpk = sget(j, "box_pk");
    unsigned char pk[32], bk[32];
    enum krole r = krole_parse(role);
    if (!id || !jspec_is_id(id) || r == KROLE_NONE || r == KROLE_CITIZEN || !spk || !bpk ||
        b64_decode_exact(pk, 32, spk) != 0 || b64_decode_exact(bk, 32, bpk) != 0) {
        viol(a, NULL, "principal-format", "principal.registered with a bad id, role or key");
        return;
    }
    if (pfind(a, id)) {
        viol(a, NULL, "principal-duplicate", "principal %s registered again", id);
        return;
    }
    if (a->np == a->pcap) {
        size_t ncap = a->pcap ? a->pcap * 2 : 32;
        struct principal *np = realloc(a->p, ncap * sizeof *np);
        if (!np) {
            a->oom = 1;
            return;
        }
        a->p = np;
        a->pcap = ncap;
    }
    struct principal *p = &a->p[a->np];
    /* a->p is NULL only while np == pcap == 0, when the branch above allocates it. */
    memset(p, 0, sizeof *p); // NOLINT(clang-analyzer-core.NonNullParamChecker)
    snprintf(p->id, sizeof p->id, "%s", id);
    p->role = r;
    p->active = 1;
    memcpy(p->sign_pk, pk, 32);
    p->registered = a->n;
    if (smap_put(&a->pidx, id, a->np) != 0) {
        a->oom = 1;
        return;
    }
    a->np++;
}

static void on_deactivated(struct audit *a, const json_t *j)
{
    const char *id = sget(j, "id"), *role = sget(j, "role");
    struct principal *p = pfind(a, id);
    if (!p) {
        viol(a, NULL, "principal-unknown", "principal.deactivated names %.64s, never registered before",
             id ? id : "(none)");
        return;
    }
    if (!p->active)
        viol(a, NULL, "principal-deactivated", "principal %s deactivated twice", p->id);
    if (!role || krole_parse(role) != p->role)
        viol(a, NULL, "principal-format", "principal.deactivated of %s names role %.20s, registered as %s", p->id,
             role ? role : "(none)", krole_name(p->role));
    p->active = 0;
}

/* ---- statements ----------------------------------------------------------------------------- */

/* Open the statement of leaf J (fields "statement", "signature") as TYPE. 0, or -1 reported. */
static int open_stmt(struct audit *a, struct override *o, const json_t *j, const char *type, struct kstmt *st)
{
    const char *s = sget(j, "statement"), *sig = sget(j, "signature");
    struct jerr err = {0};
    memset(st, 0, sizeof *st);
    if (!s || !sig) {
        viol(a, o, "statement", "the leaf carries no %s statement and signature", type);
        return -1;
    }
    if (kstmt_open(st, s, sig, type, &err) != 0) {
        a->cur.status = SIG_UNPARSED;
        snprintf(a->cur.type, sizeof a->cur.type, "%s", type);
        viol(a, o, "statement", "the %s statement does not parse: %.120s (%.40s)", type, err.msg, err.field);
        return -1;
    }
    snprintf(a->cur.type, sizeof a->cur.type, "%s", st->type_name);
    snprintf(a->cur.id, sizeof a->cur.id, "%s", st->id);
    snprintf(a->cur.signer, sizeof a->cur.signer, "%s", st->signer);
    a->cur.issued = st->issued;
    if (st->reason) {
        size_t l = strlen(st->reason);
        if (l >= sizeof a->cur.reason) /* cut at a character boundary: it stays valid UTF-8 */
            for (l = sizeof a->cur.reason - 1; l > 0 && ((unsigned char)st->reason[l] & 0xc0) == 0x80; l--)
                ;
        memcpy(a->cur.reason, st->reason, l);
        a->cur.reason[l] = 0;
    }
    return 0;
}

/* Replay (the id of a type is never reused) and the issued window against the leaf's time. */
static void stmt_common(struct audit *a, struct override *o, const struct kstmt *st)
{
    char key[KLUIS_ID_MAX + 40];
    snprintf(key, sizeof key, "%s\n%s", st->type_name, st->id);
    if (smap_get(&a->stmt_ids, key) != (size_t)-1)
        viol(a, o, "statement-replay", "%s statement id %s was used before", st->type_name, st->id);
    else if (smap_put(&a->stmt_ids, key, 0) != 0)
        a->oom = 1;
    if (kstmt_check_issued(st, a->time, NULL) != 0)
        viol(a, o, "statement-issued", "%s statement %s issued at %lld, outside the window of the leaf time %lld",
             st->type_name, st->id, (long long)st->issued, (long long)a->time);
}

/* The signer: registered earlier, the signature verifies with their key, and active. The role is
 * the caller's check. Returns the principal when the signature verified, else NULL (reported). */
static struct principal *signer(struct audit *a, struct override *o, struct kstmt *st)
{
    struct principal *p = pfind(a, st->signer);
    if (!p) {
        a->cur.status = SIG_UNKNOWN_SIGNER;
        viol(a, o, "signer-unknown", "%s %s is signed by %s, who is not registered earlier in the log",
             st->type_name, st->id, st->signer);
        return NULL;
    }
    snprintf(a->cur.role, sizeof a->cur.role, "%s", krole_name(p->role));
    if (kstmt_check_signature(st, p->sign_pk, NULL) != 0) {
        a->cur.status = SIG_BAD;
        viol(a, o, "bad-signature", "%s %s: the signature does not verify with the key %s registered at leaf %llu",
             st->type_name, st->id, p->id, (unsigned long long)p->registered);
        return NULL;
    }
    a->cur.status = SIG_VERIFIED;
    if (!p->active)
        viol(a, o, "signer-inactive", "%s %s is signed by %s, deactivated earlier", st->type_name, st->id, p->id);
    return p;
}

/* ---- overrides ------------------------------------------------------------------------------ */

static void ov_free(struct override *o)
{
    if (!o)
        return;
    kstmt_free(&o->req);
    json_decref(o->rules);
    json_decref(o->history);
    for (size_t i = 0; i < o->n_approvers; i++)
        free(o->approvers[i]);
    free(o->approvers);
    free(o);
}

static void on_requested(struct audit *a, const json_t *j, const char *oid)
{
    if (ofind(a, oid)) {
        viol(a, ofind(a, oid), "override-duplicate", "override %s requested again", oid);
        return;
    }
    if (a->nov == a->ovcap) {
        size_t ncap = a->ovcap ? a->ovcap * 2 : 16;
        struct override **nov = realloc(a->ov, ncap * sizeof *nov);
        if (!nov) {
            a->oom = 1;
            return;
        }
        a->ov = nov;
        a->ovcap = ncap;
    }
    struct override *o = calloc(1, sizeof *o);
    if (o && !(o->history = json_array())) {
        free(o);
        o = NULL;
    }
    if (!o || smap_put(&a->ovidx, oid, a->nov) != 0) {
        if (o)
            json_decref(o->history);
        free(o);
        a->oom = 1;
        return;
    }
    a->ov[a->nov++] = o;
    snprintf(o->id, sizeof o->id, "%s", oid);
    snprintf(o->citizen, sizeof o->citizen, "%s", sget(j, "citizen") ? sget(j, "citizen") : "");
    o->requested = a->n;
    o->state = OV_PENDING;

    struct kstmt *st = &o->req;
    if (open_stmt(a, o, j, "override", st) != 0)
        return;
    o->req_ok = 1;
    if (kstmt_hash(o->hash, st) != 0)
        a->oom = 1;
    if (strcmp(st->id, oid) != 0 || !sget(j, "citizen") || strcmp(st->citizen, sget(j, "citizen")) != 0)
        viol(a, o, "leaf-mismatch", "override leaf %s / citizen %.64s, but the statement says %s / %s", oid,
             o->citizen, st->id, st->citizen);
    stmt_common(a, o, st);
    struct principal *p = signer(a, o, st);
    const struct charter *c = a->charter;
    if (!c) {
        viol(a, o, "charter-missing", "override %s requested before any charter was adopted", oid);
        return;
    }
    if (p && p->role != c->override.authority_role)
        viol(a, o, "wrong-role", "override %s is requested by %s (role %s); the charter gives that to the %s", oid, p->id,
             krole_name(p->role), krole_name(c->override.authority_role));
    const struct charter_ground *g = charter_ground(c, st->ground);
    if (g && g->title)
        snprintf(o->ground_title, sizeof o->ground_title, "%s", g->title);
    o->rules = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s?}", "charter", c->id, "version",
                         (json_int_t)c->version, "authority_role", krole_name(c->override.authority_role),
                         "approver_role", krole_name(c->override.approver_role), "approvals_required",
                         (json_int_t)c->override.approvals_required, "max_hours", (json_int_t)c->override.max_hours,
                         "min_justification_chars", (json_int_t)c->override.min_justification_chars,
                         "citizen_notice_hours", (json_int_t)c->override.citizen_notice_hours, "ground_title",
                         g ? g->title : NULL);
    if (!o->rules)
        a->oom = 1;
    if (!g)
        viol(a, o, "ground-unknown", "override %s names ground '%.64s', not in charter %s v%lld", oid, st->ground,
             c->id, (long long)c->version);
    size_t chars = policy_text_chars(st->justification);
    if ((int64_t)chars < c->override.min_justification_chars)
        viol(a, o, "justification-too-short", "override %s: a justification of %zu characters, the charter asks %lld",
             oid, chars, (long long)c->override.min_justification_chars);
    if (st->hours < 1)
        viol(a, o, "bad-hours", "override %s asks %lld hours", oid, (long long)st->hours);
    else if (st->hours > c->override.max_hours)
        viol(a, o, "hours-exceed", "override %s asks %lld hours, the charter allows %lld", oid, (long long)st->hours,
             (long long)c->override.max_hours);
    size_t i, ns = json_array_size(st->sections);
    json_t *e;
    if (ns == 0)
        viol(a, o, "sections", "override %s names no section", oid);
    json_array_foreach(st->sections, i, e) {
        const char *s = json_string_value(e);
        int bad = !s || (strcmp(s, "*") == 0 ? ns != 1 : !charter_section(c, s));
        if (bad)
            viol(a, o, "sections", "override %s names section '%.64s', not a section of the charter (or '*' mixed)",
                 oid, s ? s : "?");
    }
    struct principal *b = pfind(a, st->beneficiary);
    if (!b)
        viol(a, o, "beneficiary-unknown", "override %s names beneficiary %s, not registered earlier", oid,
             st->beneficiary);
    else if (b->role != KROLE_PROFESSIONAL)
        viol(a, o, "beneficiary-role", "override %s names beneficiary %s (role %s), not a professional", oid, b->id,
             krole_name(b->role));
    else if (!b->active)
        viol(a, o, "beneficiary-inactive", "override %s names beneficiary %s, deactivated earlier", oid, b->id);
}

/* An override leaf other than the request: find it and refuse activity after close. */
static struct override *ov_for(struct audit *a, const char *oid, const char *event)
{
    struct override *o = ofind(a, oid);
    if (!o) {
        viol(a, NULL, "override-unknown", "%s for override %.64s, never requested before", event, oid);
        return NULL;
    }
    if (o->state == OV_CLOSED) {
        viol(a, o, "after-close", "%s for override %s after it was closed", event, oid);
        return NULL;
    }
    return o;
}

static void on_approved(struct audit *a, const json_t *j, const char *oid)
{
    struct override *o = ov_for(a, oid, "override.approved");
    if (!o)
        return;
    if (o->state != OV_PENDING)
        viol(a, o, "approval-not-pending", "an approval of override %s after its activation", oid);
    struct kstmt st;
    if (open_stmt(a, o, j, "override-approval", &st) != 0)
        return;
    const char *approver = sget(j, "approver");
    if (strcmp(st.override_id, oid) != 0 || !approver || strcmp(approver, st.signer) != 0)
        viol(a, o, "leaf-mismatch", "approval leaf of %s by %.64s carries a statement about %s by %s", oid,
             approver ? approver : "(none)", st.override_id, st.signer);
    stmt_common(a, o, &st);
    struct principal *p = signer(a, o, &st);
    int valid = p != NULL && p->active;
    const struct charter *c = a->charter;
    if (p && c && p->role != c->override.approver_role) {
        viol(a, o, "wrong-role", "override %s approved by %s (role %s); the charter asks the role %s", oid, p->id,
             krole_name(p->role), krole_name(c->override.approver_role));
        valid = 0;
    }
    if (!o->req_ok || sodium_memcmp(st.statement_hash, o->hash, 32) != 0) {
        viol(a, o, "approval-statement", "approval %s by %s is over another statement than override %s's request",
             st.id, st.signer, oid);
        valid = 0;
    }
    if (o->req_ok && strcmp(st.signer, o->req.signer) == 0) {
        viol(a, o, "approval-self", "override %s approved by its own requester %s", oid, st.signer);
        valid = 0;
    }
    for (size_t i = 0; i < o->n_approvers; i++)
        if (strcmp(o->approvers[i], st.signer) == 0) {
            viol(a, o, "approval-duplicate", "override %s approved twice by %s", oid, st.signer);
            valid = 0;
        }
    if (valid) {
        char **na = realloc(o->approvers, (o->n_approvers + 1) * sizeof *na);
        if (!na || !(na[o->n_approvers] = strdup(st.signer))) {
            if (na)
                o->approvers = na;
            a->oom = 1;
        } else {
            o->approvers = na;
            o->n_approvers++;
        }
    }
    kstmt_free(&st);
}

static void on_activated(struct audit *a, const json_t *j, const char *oid)
{
    struct override *o = ov_for(a, oid, "override.activated");
    if (!o)
        return;
    const json_t *ja = json_object_get(j, "activated"), *je = json_object_get(j, "expires");
    if (o->state == OV_ACTIVE) {
        viol(a, o, "activation-duplicate", "override %s activated again", oid);
        return;
    }
    const struct charter *c = a->charter;
    if (c && !policy_quorum_reached(c, o->n_approvers))
        viol(a, o, "activation-quorum", "override %s activated with %zu valid approval(s); the charter asks %lld", oid,
             o->n_approvers, (long long)c->override.approvals_required);
    o->state = OV_ACTIVE;
    o->was_active = 1;
    a->n_active++;
    if (!json_is_integer(ja) || !json_is_integer(je)) {
        viol(a, o, "activation-times", "override.activated of %s lacks activated/expires", oid);
        o->expires = INT64_MAX / 2;
        return;
    }
    o->activated = json_integer_value(ja);
    o->expires = json_integer_value(je);
    int64_t hours = o->req_ok ? o->req.hours : 0;
    if (o->expires <= o->activated || (o->req_ok && o->expires - o->activated > hours * 3600))
        viol(a, o, "activation-times", "override %s active from %lld to %lld, longer than the %lld h asked", oid,
             (long long)o->activated, (long long)o->expires, (long long)hours);
    else if (c && o->expires - o->activated > c->override.max_hours * 3600)
        viol(a, o, "hours-exceed", "override %s active %lld s, the charter allows %lld h", oid,
             (long long)(o->expires - o->activated), (long long)c->override.max_hours);
    if (o->activated > a->time + AUDIT_CLOCK_SLACK || o->activated < a->time - AUDIT_CLOCK_SLACK)
        viol(a, o, "activation-times", "override %s says activated at %lld, logged at %lld", oid,
             (long long)o->activated, (long long)a->time);
}

/* override.escrow-released and override.wraps-uploaded: only while active, only its sections. */
static void on_items(struct audit *a, const json_t *j, const char *oid, const char *event, const char *what)
{
    struct override *o = ov_for(a, oid, event);
    if (!o)
        return;
    char rule[32];
    snprintf(rule, sizeof rule, "%s-not-active", what);
    if (o->state != OV_ACTIVE)
        viol(a, o, rule, "%s for override %s before its activation", event, oid);
    else if (a->time >= o->expires)
        viol(a, o, rule, "%s for override %s at %lld, after it expired at %lld", event, oid, (long long)a->time,
             (long long)o->expires);
    if (strcmp(what, "escrow") == 0)
        o->escrow++;
    else
        o->wraps++;
    snprintf(rule, sizeof rule, "%s-section", what);
    const json_t *items = json_object_get(j, "items");
    size_t i;
    json_t *it;
    if (!json_is_array(items) || json_array_size(items) == 0) {
        viol(a, o, "leaf-format", "%s of %s without items", event, oid);
        return;
    }
    json_array_foreach(items, i, it) {
        const char *s = sget(it, "section");
        const json_t *ep = json_object_get(it, "epoch");
        if (!s || !json_is_integer(ep) || json_integer_value(ep) < 1)
            viol(a, o, "leaf-format", "%s of %s: item %zu lacks section or epoch", event, oid, i);
        else if (!o->req_ok || !kstmt_covers_section(&o->req, s))
            viol(a, o, rule, "%s of %s names section %.64s, which the override does not cover", event, oid, s);
    }
}

static void on_closed(struct audit *a, const json_t *j, const char *oid)
{
    struct override *o = ov_for(a, oid, "override.closed");
    if (!o)
        return;
    const char *reason = sget(j, "reason");
    if (reason && strcmp(reason, "expired") == 0) {
        if (json_object_get(j, "statement"))
            viol(a, o, "leaf-format", "override.closed of %s by expiry carries a statement", oid);
        if (o->state == OV_ACTIVE && a->time < o->expires)
            viol(a, o, "closed-early", "override %s closed as expired at %lld, before it expires at %lld", oid,
                 (long long)a->time, (long long)o->expires);
        snprintf(o->closed_by, sizeof o->closed_by, "(vault)");
    } else if (reason && strcmp(reason, "closed") == 0) {
        struct kstmt st;
        if (open_stmt(a, o, j, "override-close", &st) == 0) {
            if (strcmp(st.override_id, oid) != 0)
                viol(a, o, "leaf-mismatch", "close leaf of %s carries a statement about %s", oid, st.override_id);
            stmt_common(a, o, &st);
            struct principal *p = signer(a, o, &st);
            const struct charter *c = a->charter;
            int is_beneficiary = o->req_ok && strcmp(st.signer, o->req.beneficiary) == 0;
            if (p && !is_beneficiary && !(c && p->role == c->override.authority_role))
                viol(a, o, "wrong-role", "override %s closed by %s (role %s), neither the %s nor its beneficiary", oid,
                     p->id, krole_name(p->role), c ? krole_name(c->override.authority_role) : "mayor");
            snprintf(o->closed_by, sizeof o->closed_by, "%s", st.signer);
            kstmt_free(&st);
        }
    } else {
        viol(a, o, "leaf-format", "override.closed of %s with reason '%.40s'", oid, reason ? reason : "(none)");
    }
    if (o->state == OV_ACTIVE && !o->late_flagged && a->time > o->expires + AUDIT_EXPIRY_GRACE) {
        viol(a, o, "expiry-closure-late", "override %s expired at %lld but was closed only at %lld (grace %d s)", oid,
             (long long)o->expires, (long long)a->time, AUDIT_EXPIRY_GRACE);
        o->late_flagged = 1;
    }
    if (o->state == OV_ACTIVE)
        a->n_active--;
    o->state = OV_CLOSED;
    o->closed_at = a->time;
    snprintf(o->close_reason, sizeof o->close_reason, "%s", reason ? reason : "?");
}

/* Every active override whose expiry (plus grace) lies before the leaf time T must be closed. */
static void overdue(struct audit *a, int64_t t, const char *where)
{
    for (size_t i = 0; a->n_active && i < a->nov; i++) {
        struct override *o = a->ov[i];
        if (o->state == OV_ACTIVE && !o->late_flagged && t > o->expires + AUDIT_EXPIRY_GRACE) {
            viol(a, o, "expiry-closure-missing", "override %s expired at %lld and was not closed by %s %lld", o->id,
                 (long long)o->expires, where, (long long)t);
            o->late_flagged = 1;
        }
    }
}

/* ---- the history of an override (audit show) ------------------------------------------------ */

static const char *sig_name(enum sig_status s)
{
    switch (s) {
    case SIG_VERIFIED:
        return "verified";
    case SIG_BAD:
        return "does not verify";
    case SIG_UNKNOWN_SIGNER:
        return "signer not registered earlier";
    case SIG_UNPARSED:
        return "statement does not parse";
    default:
        return "none";
    }
}

/* Append leaf J (already checked) to the history of the override it names, when there is one. */
static void record_history(struct audit *a, const json_t *j, const char *event, const char *oid)
{
    struct override *o = ofind(a, oid);
    if (!o)
        return;
    json_t *h = json_pack("{s:I, s:I, s:s}", "index", (json_int_t)a->n, "time", (json_int_t)a->time, "event", event);
    if (!h || json_array_append_new(o->history, h) != 0) {
        a->oom = 1;
        return;
    }
    static const char *const copy[] = {"citizen", "approver", "activated", "expires", "items", "reason"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
        json_t *v = json_object_get(j, copy[i]);
        if (v)
            json_object_set(h, copy[i], v);
    }
    if (a->charter)
        json_object_set_new(h, "charter",
                            json_pack("{s:s, s:I}", "id", a->charter->id, "version", (json_int_t)a->charter->version));
    if (a->cur.type[0]) {
        json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "type", a->cur.type, "id", a->cur.id, "signer",
                               a->cur.signer, "signature", sig_name(a->cur.status), "signer_role",
                               a->cur.role[0] ? a->cur.role : NULL);
        if (st && a->cur.status != SIG_UNPARSED)
            json_object_set_new(st, "issued", json_integer(a->cur.issued));
        if (st && a->cur.reason[0])
            json_object_set_new(st, "reason", json_string(a->cur.reason));
        if (!st || json_object_set_new(h, "statement", st) != 0)
            a->oom = 1;
    }
}

/* ---- one leaf ------------------------------------------------------------------------------- */

int audit_leaf(struct audit *a, const unsigned char *leaf, size_t len)
{
    if (a->oom)
        return -1;
    memset(&a->cur, 0, sizeof a->cur);
    struct jerr err = {0};
    json_t *j = jspec_parse((const char *)leaf, len, &err);
    if (!j) {
        viol(a, NULL, "leaf-json", "the leaf is not a strict JSON object: %.100s", err.msg);
        a->n++;
        return a->oom ? -1 : 0;
    }
    void *it = json_object_iter(j);
    const char *k0 = it ? json_object_iter_key(it) : NULL;
    void *it1 = it ? json_object_iter_next(j, it) : NULL;
    const char *k1 = it1 ? json_object_iter_key(it1) : NULL;
    void *it2 = it1 ? json_object_iter_next(j, it1) : NULL;
    const char *k2 = it2 ? json_object_iter_key(it2) : NULL;
    const json_t *ji = json_object_get(j, "index"), *jt = json_object_get(j, "time");
    const char *event = sget(j, "event");
    if (!k0 || !k1 || !k2 || strcmp(k0, "index") || strcmp(k1, "time") || strcmp(k2, "event") ||
        !json_is_integer(jt) || !event)
        viol(a, NULL, "leaf-format", "the leaf does not start with integer index, integer time, string event");
    if (!json_is_integer(ji) || json_integer_value(ji) < 0 || (uint64_t)json_integer_value(ji) != a->n)
        viol(a, NULL, "leaf-index", "the leaf at position %llu says index %lld", (unsigned long long)a->n,
             json_is_integer(ji) ? (long long)json_integer_value(ji) : -1LL);
    a->time = json_is_integer(jt) ? json_integer_value(jt) : 0;
    if (!event)
        event = "";
    if (a->n == 0 && strcmp(event, "vault.created") != 0)
        viol(a, NULL, "vault-created", "the first leaf is '%.40s', not vault.created", event);

    const char *oid = sget(j, "override");
    if (strncmp(event, "override.", 9) == 0 && (!oid || !jspec_is_id(oid))) {
        viol(a, NULL, "leaf-format", "%.40s leaf without a valid override id", event);
    } else if (strcmp(event, "vault.created") == 0) {
        on_vault_created(a, j);
    } else if (strcmp(event, "charter.adopted") == 0) {
        on_charter(a, j);
    } else if (strcmp(event, "principal.registered") == 0) {
        on_registered(a, j);
    } else if (strcmp(event, "principal.deactivated") == 0) {
        on_deactivated(a, j);
    } else if (strcmp(event, "override.requested") == 0) {
        on_requested(a, j, oid);
    } else if (strcmp(event, "override.approved") == 0) {
        on_approved(a, j, oid);
    } else if (strcmp(event, "override.activated") == 0) {
        on_activated(a, j, oid);
    } else if (strcmp(event, "override.escrow-released") == 0) {
        on_items(a, j, oid, event, "escrow");
    } else if (strcmp(event, "override.wraps-uploaded") == 0) {
        on_items(a, j, oid, event, "wraps");
    } else if (strcmp(event, "override.closed") == 0) {
        on_closed(a, j, oid);
    } else {
        viol(a, NULL, "unknown-event", "unknown event '%.60s'", event);
    }
    if (strncmp(event, "override.", 9) == 0 && oid && jspec_is_id(oid))
        record_history(a, j, event, oid);
    overdue(a, a->time, "the leaf time");
    json_decref(j);
    a->n++;
    return a->oom ? -1 : 0;
}

int audit_finish(struct audit *a, int64_t now)
{
    if (a->n == 0)
        viol(a, NULL, "vault-created", "the log is empty");
    a->now = now;
    overdue(a, now, "now,");
    return a->oom ? -1 : 0;
}

const struct audit_violation *audit_violations(const struct audit *a, size_t *n)
{
    *n = a->nv;
    return a->v;
}

int audit_has(const struct audit *a, const char *rule)
{
    for (size_t i = 0; i < a->nv; i++)
        if (strcmp(a->v[i].rule, rule) == 0)
            return 1;
    return 0;
}

void audit_get_stats(const struct audit *a, struct audit_stats *s)
{
    s->leaves = a->n;
    s->principals = a->np;
    s->charters = a->n_charters;
    s->overrides = a->nov;
}

static const char *state_name(enum ov_state s)
{
    return s == OV_PENDING ? "pending" : s == OV_ACTIVE ? "active" : "closed";
}

/* The distinct rule names charged to O, in the order first found. */
static json_t *rules_of(const struct audit *a, const struct override *o)
{
    json_t *r = json_array();
    for (size_t i = 0; r && i < a->nv; i++) {
        if (a->vov[i] != o)
            continue;
        size_t k;
        json_t *e;
        int seen = 0;
        json_array_foreach(r, k, e) seen |= strcmp(json_string_value(e), a->v[i].rule) == 0;
        if (!seen && json_array_append_new(r, json_string(a->v[i].rule)) != 0) {
            json_decref(r);
            return NULL;
        }
    }
    return r;
}

/* One override's summary (see audit_overrides_json()); NULL when memory is exhausted. */
static json_t *summary(const struct audit *a, const struct override *o)
{
    json_t *ap = json_array();
        for (size_t k = 0; ap && k < o->n_approvers; k++)
            json_array_append_new(ap, json_string(o->approvers[k]));
    json_t *x = json_pack("{s:s, s:s, s:I, s:s, s:o*, s:I, s:I, s:I, s:s, s:o*}", "id", o->id, "citizen", o->citizen,
                          "requested", (json_int_t)o->requested, "state", state_name(o->state), "approvals", ap,
                          "escrow_released", (json_int_t)o->escrow, "wraps_uploaded", (json_int_t)o->wraps,
                          "violations", (json_int_t)o->n_viol, "verdict", o->n_viol ? "violation" : "ok", "rules",
                          rules_of(a, o));
    if (!x || !json_object_get(x, "rules"))
        return json_decref(x), NULL;
    {
        if (o->req_ok) {
            json_object_set_new(x, "mayor", json_string(o->req.signer));
            json_object_set_new(x, "beneficiary", json_string(o->req.beneficiary));
            json_object_set_new(x, "ground", json_string(o->req.ground));
            json_object_set_new(x, "justification", json_string(o->req.justification));
            json_object_set_new(x, "hours", json_integer(o->req.hours));
            json_object_set(x, "sections", o->req.sections);
            json_object_set_new(x, "requested_at", json_integer(o->req.issued));
        }
        if (o->ground_title[0])
            json_object_set_new(x, "ground_title", json_string(o->ground_title));
        if (o->rules)
            json_object_set_new(x, "charter", json_pack("{s:O, s:O}", "id", json_object_get(o->rules, "charter"),
                                                        "version", json_object_get(o->rules, "version")));
        if (o->was_active) {
            json_object_set_new(x, "activated", json_integer(o->activated));
            json_object_set_new(x, "expires", json_integer(o->expires));
            /* how long it really was open: until its close or expiry, or until now */
            int64_t end = o->state == OV_CLOSED ? o->closed_at : a->now ? a->now : a->time;
            if (end > o->expires)
                end = o->expires;
            json_object_set_new(x, "active_seconds", json_integer(end > o->activated ? end - o->activated : 0));
        }
        if (o->state == OV_CLOSED) {
            json_object_set_new(x, "closed", json_integer(o->closed_at));
            json_object_set_new(x, "close_reason", json_string(o->close_reason));
            if (o->closed_by[0])
                json_object_set_new(x, "closed_by", json_string(o->closed_by));
        }
    }
    return x;
}

json_t *audit_overrides_json(const struct audit *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->nov; i++) {
        json_t *x = summary(a, a->ov[i]);
        if (!x || json_array_append_new(arr, x) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int audit_override_known(const struct audit *a, const char *id)
{
    return ofind((struct audit *)a, id) != NULL;
}

json_t *audit_override_detail(const struct audit *a, const char *id)
{
    const struct override *o = ofind((struct audit *)a, id);
    if (!o)
        return NULL;
    json_t *x = summary(a, o), *hist = json_deep_copy(o->history), *vl = json_array();
    if (!x || !hist || !vl)
        goto oom;
    /* the violations of this override: charged to it, or found at one of its leaves */
    for (size_t i = 0; i < a->nv; i++) {
        const struct audit_violation *v = &a->v[i];
        json_t *at = NULL, *h;
        size_t k;
        json_array_foreach(hist, k, h) if ((uint64_t)json_integer_value(json_object_get(h, "index")) == v->index) at = h;
        if (a->vov[i] != o && !(a->vov[i] == NULL && at))
            continue;
        json_t *vj = json_pack("{s:I, s:s, s:s}", "index", (json_int_t)v->index, "rule", v->rule, "detail", v->detail);
        if (!vj || json_array_append(vl, vj) != 0) {
            json_decref(vj);
            goto oom;
        }
        if (at) {
            json_t *hv = json_object_get(at, "violations");
            if (!hv && json_object_set_new(at, "violations", hv = json_array()) != 0)
                hv = NULL;
            if (!hv || json_array_append(hv, vj) != 0) {
                json_decref(vj);
                goto oom;
            }
        }
        json_decref(vj);
    }
    /* the rules of the violations found at its leaves too */
    json_t *rules = json_array();
    int bad = rules == NULL;
    size_t k;
    json_t *vj;
    json_array_foreach(vl, k, vj) {
        const char *r = json_string_value(json_object_get(vj, "rule"));
        size_t q;
        json_t *e;
        int seen = 0;
        json_array_foreach(rules, q, e) seen |= strcmp(json_string_value(e), r) == 0;
        if (!seen && json_array_append_new(rules, json_string(r)) != 0)
            bad = 1;
    }
    /* json_object_set_new() consumes the value even when it fails: check the result once */
    json_object_set_new(x, "rules", rules);
    json_object_set_new(x, "violations", json_integer((json_int_t)json_array_size(vl)));
    json_object_set_new(x, "verdict", json_string(json_array_size(vl) ? "violation" : "ok"));
    json_object_set_new(x, "charter_rules", o->rules ? json_incref(o->rules) : json_null());
    json_object_set_new(x, "history", hist);
    json_object_set_new(x, "findings", vl);
    static const char *const need[] = {"rules", "violations", "verdict", "charter_rules", "history", "findings"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        bad |= !json_object_get(x, need[i]);
    if (bad) {
        json_decref(x);
        return NULL;
    }
    return x;
oom:
    json_decref(hist);
    json_decref(vl);
    json_decref(x);
    return NULL;
}

void audit_free(struct audit *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nov; i++)
        ov_free(a->ov[i]);
    free(a->ov);
    smap_free(&a->ovidx);
    smap_free(&a->pidx);
    smap_free(&a->stmt_ids);
    free(a->p);
    free(a->v);
    free(a->vov);
    free(a->origin);
    charter_free(a->charter);
    free(a);
}
