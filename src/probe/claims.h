/*
 * claims.h - the types OIDC Core §5.1 gives the standard claims, checked on
 * a claim set (a UserInfo answer or an ID token's payload) by the `format:
 * oidc-claims` predicate (expect.c). Private to src/probe/.
 *
 * Written by hand: no library on this machine knows the §5.1 table.
 */
#ifndef AUTHFLOW_PROBE_CLAIMS_H
#define AUTHFLOW_PROBE_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* af_claims_typed: every standard claim present in obj (borrowed) has the
 * type §5.1 gives it: strings, email_verified and phone_number_verified
 * booleans, updated_at a number, address an object of string members,
 * birthdate YYYY, YYYY-MM-DD or 0000-MM-DD. Claims §5.1 does not name are
 * not looked at. False when obj is not an object or a claim is of the
 * wrong type; then note (cap bytes, caller's) says which claim and what it
 * was, " (updated_at is a string, §5.1 wants a number)". */
bool af_claims_typed(const json_t *obj, char *note, size_t cap);

#endif
