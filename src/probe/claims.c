/*
 * claims.c - the OIDC Core §5.1 standard claim types (claims.h).
 */
#include "probe/claims.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "authflow/proto.h"
#include "probe/jsonutil.h"

enum claim_kind { CK_STRING, CK_BOOL, CK_NUMBER, CK_ADDRESS, CK_DATE };

/* OIDC Core §5.1's table. */
static const struct {
    const char *name;
    enum claim_kind kind;
} std_claims[] = {
    {AF_C_SUB, CK_STRING},
    {AF_C_NAME, CK_STRING},
    {AF_C_GIVEN_NAME, CK_STRING},
    {AF_C_FAMILY_NAME, CK_STRING},
    {AF_C_MIDDLE_NAME, CK_STRING},
    {AF_C_NICKNAME, CK_STRING},
    {AF_C_PREFERRED_USERNAME, CK_STRING},
    {AF_C_PROFILE, CK_STRING},
    {AF_C_PICTURE, CK_STRING},
    {AF_C_WEBSITE, CK_STRING},
    {AF_C_EMAIL, CK_STRING},
    {AF_C_EMAIL_VERIFIED, CK_BOOL},
    {AF_C_GENDER, CK_STRING},
    {AF_C_BIRTHDATE, CK_DATE},
    {AF_C_ZONEINFO, CK_STRING},
    {AF_C_LOCALE, CK_STRING},
    {AF_C_PHONE_NUMBER, CK_STRING},
    {AF_C_PHONE_NUMBER_VERIFIED, CK_BOOL},
    {AF_C_ADDRESS, CK_ADDRESS},
    {AF_C_UPDATED_AT, CK_NUMBER},
};

/* OIDC Core §5.1.1: the members of the address claim. */
static const char *const address_members[] = {"formatted", "street_address", "locality",
                                              "region",    "postal_code",    "country"};

static const char *const kind_want[] = {"a string", "a boolean", "a number", "an object",
                                        "YYYY, YYYY-MM-DD or 0000-MM-DD"};

static bool digits(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* §5.1 birthdate: ISO 8601 YYYY-MM-DD; the year alone, or 0000 for a
 * year withheld. */
static bool birthdate_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 4)
        return digits(s, 4);
    return n == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2) && strncmp(s + 5, "00", 2) != 0 && strncmp(s + 5, "12", 2) <= 0 &&
           strncmp(s + 8, "00", 2) != 0 && strncmp(s + 8, "31", 2) <= 0;
}

bool af_claims_typed(const json_t *obj, char *note, size_t cap)
{
    size_t i, j;
    if (!json_is_object(obj)) {
        snprintf(note, cap, " (not a JSON object)");
        return false;
    }
    for (i = 0; i < sizeof(std_claims) / sizeof(std_claims[0]); i++) {
        const json_t *v = json_object_get(obj, std_claims[i].name);
        bool ok = true;
        if (v == NULL)
            continue;
        switch (std_claims[i].kind) {
        case CK_STRING:
            ok = json_is_string(v);
            break;
        case CK_BOOL:
            ok = json_is_boolean(v);
            break;
        case CK_NUMBER:
            ok = json_is_number(v);
            break;
        case CK_DATE:
            ok = json_is_string(v) && birthdate_ok(json_string_value(v));
            break;
        case CK_ADDRESS:
            ok = json_is_object(v);
            for (j = 0; ok && j < sizeof(address_members) / sizeof(address_members[0]); j++) {
                const json_t *m = json_object_get(v, address_members[j]);
                if (m != NULL && !json_is_string(m)) {
                    snprintf(note, cap, " (address.%s is %s, OIDC Core §5.1.1 wants a string)",
                             address_members[j], af_json_type_name(m));
                    return false;
                }
            }
            break;
        }
        if (!ok && json_is_string(v))
            snprintf(note, cap, " (%s \"%.40s\" is not %s, OIDC Core §5.1)", std_claims[i].name,
                     json_string_value(v), kind_want[std_claims[i].kind]);
        else if (!ok)
            snprintf(note, cap, " (%s is %s, OIDC Core §5.1 wants %s)", std_claims[i].name,
                     af_json_type_name(v), kind_want[std_claims[i].kind]);
        if (!ok)
            return false;
    }
    return true;
}
