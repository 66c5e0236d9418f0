/*
 * tests/unit/test_session.c — the in-memory login state and the lockout rule with an injected
 * clock (vault/session.h), and enrollment-code canonicalisation (vault/citizen.h): what the API
 * test cannot reach without waiting a minute or a quarter of an hour.
 */
#include <sodium.h>

#include "tests/test.h"
#include "vault/citizen.h"
#include "vault/session.h"

TEST_MAIN_DEFS

static void test_challenges(void)
{
    struct auth_mem *m = auth_mem_new(64, 4);
    unsigned char c[32], c2[32];
    int64_t exp = 0, t0 = 1700000000;
    CHECK(m && auth_challenge_issue(m, "beheer", t0, c, &exp) == 0 && exp == t0 + AUTH_CHALLENGE_TTL,
          "issue: expires after AUTH_CHALLENGE_TTL");
    CHECK(auth_challenge_take(m, "beheer", c, t0 + AUTH_CHALLENGE_TTL) != 0, "taken at its expiry: refused");
    CHECK(auth_challenge_take(m, "beheer", c, t0) != 0, "and it is gone afterwards (consumed by the attempt)");
    CHECK(auth_challenge_issue(m, "beheer", t0, c, &exp) == 0 &&
              auth_challenge_take(m, "beheer", c, t0 + AUTH_CHALLENGE_TTL - 1) == 0,
          "taken one second before expiry: accepted");
    CHECK(auth_challenge_take(m, "beheer", c, t0) != 0, "single use");
    CHECK(auth_challenge_issue(m, "beheer", t0, c, &exp) == 0 && auth_challenge_take(m, "anders", c, t0) != 0 &&
              auth_challenge_take(m, "beheer", c, t0) != 0,
          "a take naming another id fails and still consumes");
    randombytes_buf(c2, 32);
    CHECK(auth_challenge_take(m, "beheer", c2, t0) != 0, "a never-issued challenge is refused");
    CHECK(auth_challenge_issue(m, "Not An Id", t0, c, &exp) != 0, "a non-identifier gets no challenge");

    /* a full table refuses, and frees itself as challenges expire */
    int issued = 0;
    for (int i = 0; i < 200; i++)
        issued += auth_challenge_issue(m, "vol", t0, c, &exp) == 0;
    CHECK(issued <= 64 && auth_challenge_issue(m, "vol", t0, c, &exp) != 0, "the table is bounded (64 slots)");
    CHECK(auth_challenge_issue(m, "vol", t0 + AUTH_CHALLENGE_TTL, c, &exp) == 0, "expired slots are reused");
    auth_mem_free(m);
}

static void test_lockout(void)
{
    struct lockout l = {0};
    int64_t t = 1700000000, w = 15 * 60;
    for (int i = 0; i < 4; i++) {
        lockout_fail(&l, t + i, 5, w);
        CHECK(lockout_retry_after(&l, t + i) == 0, "failure %d of 5: not locked", i + 1);
    }
    lockout_fail(&l, t + 10, 5, w);
    CHECK(lockout_retry_after(&l, t + 10) == w && lockout_retry_after(&l, t + 10 + w - 1) == 1 &&
              lockout_retry_after(&l, t + 10 + w) == 0,
          "the 5th failure locks for exactly the window");
    struct lockout s = {0};
    for (int i = 0; i < 4; i++)
        lockout_fail(&s, t, 5, w);
    lockout_fail(&s, t + w, 5, w);
    CHECK(lockout_retry_after(&s, t + w) == 0 && s.failures == 1, "failures older than the window do not count");
    unsigned char buf[24];
    struct lockout d;
    lockout_encode(buf, &l);
    CHECK(lockout_decode(&d, buf, 24) == 0 && memcmp(&d, &l, sizeof d) == 0 && lockout_decode(&d, buf, 23) != 0,
          "lockout records round-trip; a wrong length is refused");

    struct auth_mem *m = auth_mem_new(8, 2);
    unsigned char a[32] = {1}, b[32] = {2}, c[32] = {3};
    struct lockout g, got;
    memset(&g, 0, sizeof g);
    g.failures = 3;
    auth_ghost_put(m, a, &g);
    g.failures = 4;
    auth_ghost_put(m, b, &g);
    auth_ghost_get(m, a, &got);
    CHECK(got.failures == 3, "ghost records are kept per id");
    g.failures = 1;
    auth_ghost_put(m, c, &g);
    auth_ghost_get(m, a, &got);
    CHECK(got.failures == 0, "the ghost table is bounded: the oldest record goes first");
    auth_ghost_get(m, b, &got);
    CHECK(got.failures == 4, "newer records stay");
    auth_mem_free(m);
}

static void test_codes(void)
{
    char text[CITIZEN_CODE_TEXT];
    unsigned char h[32], h2[32];
    citizen_code_new(text, h);
    CHECK(strlen(text) == 23 && text[5] == '-' && text[11] == '-' && text[17] == '-', "code format XXXXX-×4");
    CHECK(citizen_code_hash(h2, text) == 0 && memcmp(h, h2, 32) == 0, "the display form hashes to the stored hash");
    char loose[64];
    size_t o = 0;
    for (const char *p = text; *p; p++)
        if (*p != '-')
            loose[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    loose[o] = 0;
    CHECK(citizen_code_hash(h2, loose) == 0 && memcmp(h, h2, 32) == 0, "lower case without dashes is the same code");
    unsigned char x[32], y[32];
    CHECK(citizen_code_hash(x, "0000011111AAAAABBBBB") == 0 && citizen_code_hash(y, "OOOOO-ILILI-aaaaa-bbbbb") == 0 &&
              memcmp(x, y, 32) == 0,
          "O reads as 0, I and L as 1");
    CHECK(citizen_code_hash(x, "0000011111AAAAABBBB") != 0 && citizen_code_hash(x, "0000011111AAAAABBBBBB") != 0 &&
              citizen_code_hash(x, "0000011111AAAAABBBBU") != 0,
          "19 or 21 symbols, or a U, are refused");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_challenges();
    test_lockout();
    test_codes();
    return TEST_END();
}
