/*
 * probe_mint.h - `authprobe mint`: ask authflowd's admin API for a token,
 * good or deliberately defective, and print it, so that a shell test can
 * write: curl -H "Authorization: Bearer $(authprobe mint --user alice
 * --expired)" ... (docs/admin.md).
 */
#ifndef AUTHFLOW_PROBE_MINT_H
#define AUTHFLOW_PROBE_MINT_H

/* af_probe_cmd_mint: run the subcommand; argv[0] is "mint", the options
 * follow (`authprobe mint --help` lists them). Prints the token alone on
 * stdout (the whole response with --json) and errors on stderr. Returns
 * the exit status: 0 minted, 1 the admin API refused (the message gives
 * the HTTP status and the error), 2 usage error, 3 the admin API could not
 * be reached. Reads AUTHFLOW_ADMIN_URL and AUTHFLOW_ADMIN_SECRET. Uses
 * getopt_long and resets its state first, so it may run after another
 * getopt-based parser in the same process. */
int af_probe_cmd_mint(int argc, char **argv);

#endif
