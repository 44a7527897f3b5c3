/*
 * reqlog.h - the one log line of each request (reqlog.c): method, path,
 * client, status, OAuth error and the answer's reason, as text or JSON
 * (af_log_format). Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_REQLOG_H
#define AUTHFLOW_SERVER_REQLOG_H

#include <stdbool.h>

struct af_req;  /* http_req.h */
struct af_resp; /* http_req.h */

/* af_reqlog_level: the level of a request's line: error for a 5xx, warn for
 * a 4xx, info otherwise; debug for the admin port (a test harness's
 * traffic). */
int af_reqlog_level(const struct af_resp *resp, bool admin);

/* af_reqlog_write: log req answered by resp in one line, once the handler
 * ran (server.c, with the ledger record of seq; 0: none). Text:
 *
 *   METHOD PATH STATUS CLIENT [DETAIL] [sub=SUB] [scenario=NAME] [ERROR][: REASON]
 *
 * CLIENT "-" when no client was named; JSON: the members method, path,
 * status, client, error, reason (null when absent), detail, sub, scenario
 * and seq (when present), admin (true on the admin port). Every value a
 * client sent is escaped (af_log_text) and cut to a bounded length; no
 * parameter value is shown but the client id: the reason is the handler's
 * (struct af_resp), which never holds a secret. Nothing when the line's
 * level is off. */
void af_reqlog_write(const struct af_req *req, const struct af_resp *resp, unsigned long long seq,
                     bool admin);

#endif
