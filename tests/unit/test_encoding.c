/*
 * tests/unit/test_encoding.c — vault/encoding: the strict base64url, base64 and hex codecs.
 *
 * Regression (found by fuzz/fuzz_jspec): libsodium 1.0.18 (Debian 12) reads each input character
 * as a signed char, so every byte >= 0x80 decodes as if it were '_' (base64url) or '/' (base64).
 * A value could then be sent in many byte-different spellings — "ϘH" for "__H" — that all decode
 * alike, and a checkpoint root or a statement envelope that no other (strict) decoder accepts was
 * accepted here. Our decoders must refuse any byte outside the alphabet.
 */
#include "tests/test.h"
#include "vault/encoding.h"

#include <sodium.h>

TEST_MAIN_DEFS

int main(void)
{
    unsigned char out[64], want[32];
    size_t n = 0;
    if (sodium_init() < 0)
        return 1;

    /* Known answers and round trips. */
    CHECK(b64_decode(out, sizeof out, &n, "__8", 3) == 0 && n == 2 && out[0] == 0xff && out[1] == 0xff,
          "base64url '__8' decodes to ff ff");
    CHECK(b64std_decode(out, sizeof out, &n, "//8=", 4) == 0 && n == 2 && out[0] == 0xff && out[1] == 0xff,
          "base64 '//8=' decodes to ff ff");
    memset(want, 0xfb, sizeof want);
    char *e = b64_encode(want, sizeof want);
    CHECK(e && b64_decode_exact(out, sizeof want, e) == 0 && memcmp(out, want, sizeof want) == 0,
          "b64_decode_exact round-trips 32 bytes");
    free(e);
    CHECK(b64_decode(out, sizeof out, &n, "__8=", 4) != 0, "base64url with padding refused");
    CHECK(b64_decode(out, sizeof out, &n, "__9", 3) != 0, "base64url with non-zero trailing bits refused");

    /* Every byte >= 0x80, in every position of a valid spelling, is refused by every decoder. */
    int ok_url = 1, ok_std = 1, ok_exact = 1;
    for (unsigned c = 0x80; c <= 0xff; c++) {
        for (size_t pos = 0; pos < 4; pos++) {
            char url[5] = "__-_", std[5] = "////";
            url[pos] = (char)c;
            std[pos] = (char)c;
            ok_url &= b64_decode(out, sizeof out, &n, url, 4) != 0;
            ok_std &= b64std_decode(out, sizeof out, &n, std, 4) != 0;
            ok_exact &= b64_decode_exact(out, 3, url) != 0;
        }
    }
    CHECK(ok_url, "b64_decode refuses every byte >= 0x80 (libsodium 1.0.18 reads it as '_')");
    CHECK(ok_std, "b64std_decode refuses every byte >= 0x80 (libsodium 1.0.18 reads it as '/')");
    CHECK(ok_exact, "b64_decode_exact refuses every byte >= 0x80");
    CHECK(b64_decode_exact(want, 32, "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ\xcf\x98HdyGZBJVMbg") != 0,
          "the fuzzer's input: a UTF-8 'Ϙ' for '__' inside a 32-byte key is refused");
    CHECK(b64_decode(out, sizeof out, &n, "__ _", 4) != 0 && b64_decode(out, sizeof out, &n, "__\n_", 4) != 0,
          "whitespace refused");
    CHECK(b64_decode(out, sizeof out, &n, "_\0__", 4) != 0, "an embedded NUL refused");

    /* Hex: the same high bytes. */
    CHECK(hex_decode_exact(out, 1, "ff") == 0 && out[0] == 0xff, "hex 'ff' decodes");
    CHECK(hex_decode_exact(out, 1, "\xb0" "1") != 0 && hex_decode_exact(out, 1, "f\xe6") != 0,
          "hex with a byte >= 0x80 refused");
    return TEST_END();
}
