/*
 * url_endpoint.c - do two absolute URLs name the same endpoint?
 *
 * The parsing is libcurl's URL API (curl_url), which already knows
 * authorities, IPv6 literals, default ports and dot segments. Only the
 * probe compares URLs, and this file is its own object in libauthflow.a so
 * that authflowd, which never calls af_url_same_endpoint, links neither it
 * nor libcurl (authflowd_LDADD in Makefile.am): libcurl brings some twenty
 * shared libraries whose loading was a third of authflowd's start and of
 * its idle memory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "authflow/util.h"

/* ---- comparing URLs ---- */

/* One URL's endpoint. The curl strings are the caller's to free with
 * endpoint_clear; opaque URLs borrow their scheme and path from the text. */
struct endpoint {
    bool opaque;      /* "scheme:path", no authority: scheme and path only */
    const char *text; /* the URL (borrowed) */
    size_t scheme_len;
    char *scheme; /* curl's, or NULL when opaque */
    char *host;
    char *port; /* NULL: the scheme has no default and none was given */
    char *path;
};

/* scheme_len: the length of the scheme (RFC 3986 §3.1) before s's ':', or
 * 0 when s does not start with one (a relative reference). */
static size_t scheme_len(const char *s)
{
    size_t n = 0;
    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return s[n] == ':' ? n : 0;
}

static void endpoint_clear(struct endpoint *ep)
{
    curl_free(ep->scheme);
    curl_free(ep->host);
    curl_free(ep->port);
    curl_free(ep->path);
    memset(ep, 0, sizeof(*ep));
}

/* endpoint_parse: false (ep left clear) when s is relative or unparsable. */
static bool endpoint_parse(const char *s, struct endpoint *ep)
{
    CURLU *u = NULL;
    size_t sl;
    bool ok = false;

    memset(ep, 0, sizeof(*ep));
    if (s == NULL)
        goto out;
    sl = scheme_len(s);
    if (sl == 0)
        goto out;
    ep->text = s;
    ep->scheme_len = sl;
    if (strncmp(s + sl, "://", 3) != 0) {
        const char *p;
        /* http and https always have an authority: "https:/cb" is not one. */
        if ((sl == 4 && strncasecmp(s, "http", 4) == 0) ||
            (sl == 5 && strncasecmp(s, "https", 5) == 0))
            goto out;
        for (p = s; *p != '\0'; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                goto out;
        ep->opaque = true;
        ok = true;
        goto out;
    }
    u = curl_url();
    if (u == NULL)
        goto out;
    if (curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &ep->scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &ep->host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &ep->path, 0) != CURLUE_OK)
        goto out;
    /* http and https get their default port; another scheme may have none. */
    if (curl_url_get(u, CURLUPART_PORT, &ep->port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        ep->port = NULL;
    ok = true;
out:
    curl_url_cleanup(u);
    if (!ok)
        endpoint_clear(ep);
    return ok;
}

/* path_eq: exact, except that an empty path is "/" (RFC 3986 §6.2.3). */
static bool path_eq(const char *a, size_t al, const char *b, size_t bl)
{
    if (al == 0) {
        a = "/";
        al = 1;
    }
    if (bl == 0) {
        b = "/";
        bl = 1;
    }
    return al == bl && memcmp(a, b, al) == 0;
}

/* host_eq: case-insensitive; bracketed IPv6 literals compare as addresses
 * ("[::1]" is "[0:0::1]"). */
static bool host_eq(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    if (al > 2 && bl > 2 && a[0] == '[' && b[0] == '[' && a[al - 1] == ']' && b[bl - 1] == ']' &&
        al < INET6_ADDRSTRLEN + 2 && bl < INET6_ADDRSTRLEN + 2) {
        char sa[INET6_ADDRSTRLEN + 2], sb[INET6_ADDRSTRLEN + 2];
        unsigned char na[16], nb[16];
        memcpy(sa, a + 1, al - 2);
        sa[al - 2] = '\0';
        memcpy(sb, b + 1, bl - 2);
        sb[bl - 2] = '\0';
        if (inet_pton(AF_INET6, sa, na) == 1 && inet_pton(AF_INET6, sb, nb) == 1)
            return memcmp(na, nb, sizeof(na)) == 0;
    }
    return strcasecmp(a, b) == 0;
}

bool af_url_same_endpoint(const char *a, const char *b)
{
    struct endpoint ea, eb;
    bool same = false;

    if (!endpoint_parse(a, &ea))
        return false;
    if (!endpoint_parse(b, &eb)) {
        endpoint_clear(&ea);
        return false;
    }
    if (ea.opaque != eb.opaque)
        goto out;
    if (ea.opaque) {
        const char *pa = ea.text + ea.scheme_len + 1, *pb = eb.text + eb.scheme_len + 1;
        same = ea.scheme_len == eb.scheme_len &&
               strncasecmp(ea.text, eb.text, ea.scheme_len) == 0 &&
               path_eq(pa, strcspn(pa, "?#"), pb, strcspn(pb, "?#"));
        goto out;
    }
    same = strcasecmp(ea.scheme, eb.scheme) == 0 && host_eq(ea.host, eb.host) &&
           ((ea.port == NULL && eb.port == NULL) ||
            (ea.port != NULL && eb.port != NULL && strcmp(ea.port, eb.port) == 0)) &&
           path_eq(ea.path, strlen(ea.path), eb.path, strlen(eb.path));
out:
    endpoint_clear(&ea);
    endpoint_clear(&eb);
    return same;
}
