/*
 * vault/errors.h — error codes shared by every module (the table is vault/errors.def).
 * 0 (KERR_OK) is success; every other value names one SPEC §10 code. `method_not_allowed`,
 * `internal` and `unavailable` are the project's additions for 405/500/503 outside the SPEC's list.
 */
#ifndef KLUIS_ERRORS_H
#define KLUIS_ERRORS_H

typedef enum kerr {
    KERR_OK = 0,
#define X(e, code, status, msg) KERR_##e,
#include "vault/errors.def"
#undef X
    KERR_COUNT_
} kerr;

/** @brief The SPEC code string of E ("bad_request", ...); "internal" for unknown values. */
const char *kerr_code(kerr e);
/** @brief The HTTP status of E (200 for KERR_OK). */
int kerr_status(kerr e);
/** @brief The default human message of E. */
const char *kerr_message(kerr e);

#endif
