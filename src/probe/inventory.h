/*
 * inventory.h - the feature inventory of an authorization server: what its
 * metadata (discovery and the profile's overlay) says it offers, in a
 * fixed order, reported before the verdicts (docs/probe.md, "Feature
 * inventory") so that a reader sees why a check ran, was skipped or was
 * inconclusive. Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_INVENTORY_H
#define AUTHFLOW_PROBE_INVENTORY_H

#include <stdio.h>

#include <jansson.h>

/* af_inventory_build: the inventory of meta (borrowed): a new JSON array,
 * one object per row of the table in inventory.c: {"name", "member",
 * "kind" (endpoint, list, flag, dialect), "spec", "value", "stated",
 * "valid"}. "value" is what the metadata says, or the specification's
 * default when it says nothing ("stated": false); an absent endpoint is
 * null. A member of the wrong type ("false" for a flag) is "valid": false
 * with its value as it came, never the default. Caller owns the result;
 * NULL when meta is not an object with at least one member, or out of
 * memory. */
json_t *af_inventory_build(const json_t *meta);

/* af_inventory_print: the inventory as text lines, name, value and
 * clause ("  revocation      yes  (RFC 7009)"; a default marked "*", a
 * wrong type "invalid: "false" (not a boolean)"), after a "features (from
 * the metadata; ...):" line; nothing when inv is NULL. */
void af_inventory_print(FILE *f, const json_t *inv);

#endif
