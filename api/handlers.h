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

/** GET /v1/log/entries?start=&end= → {entries:[{index, leaf}]} (≤ 1000; auditor, mayor, officer) (api/log.c). */
void handle_log_entries(struct request *r);

/* ---- api/auth.c: sessions and the passphrase path (SPEC §3, §4, §6) ------------------------- */

/** POST /v1/auth/challenge {"id"} → {"challenge","expires"}; any id, known or not. */
void handle_auth_challenge(struct request *r);
/** POST /v1/auth/session {"id","challenge","signature"} → {"token","expires","role"}. */
void handle_auth_session_create(struct request *r);
/** DELETE /v1/auth/session (bearer) → {"ended":true}. */
void handle_auth_session_delete(struct request *r);
/** POST /v1/auth/prelogin {"id"} → {"salt","opslimit","memlimit"} (a stable fake for unknown ids). */
void handle_auth_prelogin(struct request *r);
/** POST /v1/auth/bundle {"id","auth_key"} → {"bundle","sign_pk","box_pk"}; failures lock out. */
void handle_auth_bundle(struct request *r);

/* ---- api/principals.c: the directory (SPEC §1, §6) ------------------------------------------- */

/** POST /v1/principals (admin) → 201 the principal. */
void handle_principals_create(struct request *r);
/** GET /v1/principals?role= (any session) → [principal...]; never citizens. */
void handle_principals_list(struct request *r);
/** POST /v1/principals/{id}/deactivate (admin) → {"id","active":false,"sessions_ended"}. */
void handle_principal_deactivate(struct request *r);

/* ---- api/citizens.c: citizen records (SPEC §3, §6) ------------------------------------------- */

/** POST /v1/citizens (admin) {id, display_name} → 201 {id, enrollment_code, expires}. */
void handle_citizens_create(struct request *r);
/** POST /v1/citizens/{c}/enroll (the code authenticates) → {"id","enrolled":true,"sections"}. */
void handle_citizen_enroll(struct request *r);
/** POST /v1/citizens/{c}/passphrase (the citizen) → {"id","changed":true}. */
void handle_citizen_passphrase(struct request *r);

/* ---- api/grants.c: consent (SPEC §4, §5, §6) --------------------------------------------------- */

/** POST /v1/citizens/{c}/grants (the citizen) {statement, signature, wraps} → 201 {id, state}. */
void handle_grant_create(struct request *r);
/** GET /v1/citizens/{c}/grants (the citizen) → {grants:[...]} with state. */
void handle_grant_list_citizen(struct request *r);
/** POST /v1/citizens/{c}/grants/{g}/revoke (the citizen) {statement, signature} → {id, state}. */
void handle_grant_revoke(struct request *r);
/** GET /v1/grants (professional) → {grants:[...]}: the caller's grants, each with its citizen. */
void handle_grant_list_mine(struct request *r);

/* ---- api/requests.c: access requests (SPEC §6) ------------------------------------------------ */

/** POST /v1/requests (professional) {statement, signature} → 201 {id}. */
void handle_request_create(struct request *r);
/** GET /v1/citizens/{c}/requests (the citizen) → {requests:[...]} the open ones. */
void handle_request_list(struct request *r);
/** POST /v1/citizens/{c}/requests/{r}/decline (the citizen) → {id, state:"declined"}. */
void handle_request_decline(struct request *r);

/* ---- api/dossier.c, api/entries.c, api/journal.c: the dossier (SPEC §4, §6, §9) ---------------- */

/** GET /v1/citizens/{c}/dossier → {citizen, sections:[{section, current_epoch, entries, epochs}]}:
 *  only the sections and wraps open to the caller; journaled ("read") before the answer. */
void handle_dossier_get(struct request *r);
/** GET /v1/citizens/{c}/sections/{s}/entries?after=&limit= → {entries:[{seq, statement, signature,
 *  blob}], next}; limit 1..1000 (default 100); journaled ("read") before the answer. */
void handle_entries_list(struct request *r);
/** POST /v1/citizens/{c}/sections/{s}/entries (citizen, write grantee) {statement, signature, blob}
 *  → 201 {seq}. */
void handle_entry_create(struct request *r);
/** POST /v1/citizens/{c}/sections/{s}/rotate (the citizen) {epoch, statement, signature, self_wrap,
 *  escrow_wrap, grant_wraps} → {section, epoch}. */
void handle_section_rotate(struct request *r);
/** DELETE /v1/citizens/{c}/sections/{s} (the citizen): crypto-shred → {section, erased, destroyed}. */
void handle_section_erase(struct request *r);
/** GET /v1/citizens/{c}/journal?after=&limit= (the citizen) → {events, head, count, next}. */
void handle_journal_get(struct request *r);
/** GET /v1/citizens/{c}/export (the citizen) → everything held for the dossier; journaled. */
void handle_export(struct request *r);

/** POST /v1/charter (admin): the body is the new charter → 201 {"charter","version","hash"}. */
void handle_charter_adopt(struct request *r);

/* ---- api/overrides.c: the emergency override (SPEC §5, §7) ------------------------------------ */

/** POST /v1/overrides (authority role) {statement, signature} → 201 {id, state}. */
void handle_override_create(struct request *r);
/** POST /v1/overrides/{o}/approve (approver role) {statement, signature} → {id, state, approvals}. */
void handle_override_approve(struct request *r);
/** GET /v1/overrides?state= (mayor, officer, auditor) → {overrides:[record...]}. */
void handle_override_list(struct request *r);
/** GET /v1/overrides/{o}/escrow (authority role, active override) → {override, log_index, items}. */
void handle_override_escrow(struct request *r);
/** POST /v1/overrides/{o}/wraps (authority role) {wraps:[{section, epoch, wrap}]} → {override, wraps}. */
void handle_override_wraps(struct request *r);
/** POST /v1/overrides/{o}/close (authority role or beneficiary) {statement, signature} → {id, state}. */
void handle_override_close(struct request *r);
/** GET /v1/citizens/{c}/overrides (the citizen) → {citizen, overrides:[citizen view...]}, each from its
 *  notice time on (citizen_notice_hours). */
void handle_override_list_citizen(struct request *r);

#endif
