-- wrk script for bench.sh: the client_credentials grant at /token, or with
-- AF_BENCH_FLOW=login whole authorization-code logins: a GET /authorize
-- (headless approval, a 302 carrying a code), then the code redeemed at
-- /token. Every login is a new browser (no cookie is sent back).
-- Credentials come from AF_BENCH_CLIENT and AF_BENCH_SECRET, the login's
-- redirect URI and scope from AF_BENCH_REDIRECT_URI and AF_BENCH_SCOPE.
--
-- AF_BENCH_PER_THREAD: when set, each wrk thread stops after that many
-- attempts (token requests, or logins, successful or not), so that a run issues a fixed count (wrk -d
-- still bounds it); the last of AF_BENCH_THREADS threads to finish
-- interrupts wrk (SIGINT, which wrk takes as the end of the run), counting
-- the finished threads in the file AF_BENCH_DONE_FILE, since wrk would
-- otherwise sleep out -d. done() prints, over all threads: the attempts,
-- the successes, the failures by status, and when the first failure came (seconds after
-- the start, and after how many responses of its thread).
local id = os.getenv("AF_BENCH_CLIENT") or "bench-client"
local secret = os.getenv("AF_BENCH_SECRET") or "bench-secret"
local flow = os.getenv("AF_BENCH_FLOW") or "token"
local redirect = os.getenv("AF_BENCH_REDIRECT_URI") or "http://127.0.0.1:8080/callback"
local scope = os.getenv("AF_BENCH_SCOPE") or "openid"
local quota = tonumber(os.getenv("AF_BENCH_PER_THREAD") or "0") or 0
local nthreads = tonumber(os.getenv("AF_BENCH_THREADS") or "2") or 2
local donefile = os.getenv("AF_BENCH_DONE_FILE")

local function b64(data)
    local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return ((data:gsub(".", function(x)
        local r, byte = "", x:byte()
        for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
        return r
    end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
        if #x < 6 then return "" end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
        return chars:sub(c + 1, c + 1)
    end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local function urlenc(v)
    return (v:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local token_headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. b64(id .. ":" .. secret),
}
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api.read"
wrk.headers = token_headers

-- login flow: codes waiting to be redeemed, per thread
local codes = {}
local authorize = "/authorize?response_type=code&client_id=" .. urlenc(id) ..
    "&redirect_uri=" .. urlenc(redirect) .. "&scope=" .. urlenc(scope) .. "&state=bench"
if flow == "login" then
    wrk.headers = {}
    request = function()
        local code = table.remove(codes)
        if code == nil then
            return wrk.format("GET", authorize)
        end
        return wrk.format("POST", "/token", token_headers,
            "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. urlenc(redirect))
    end
end

-- main state: the threads, to read their counters in done()
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

-- thread state (globals, so that done() can read them with thread:get)
ok, attempts, responses, errors = 0, 0, 0, 0
first_at, first_after, first_status, first_detail, seen = -1, 0, 0, "", ""
local t0

function init(args)
    t0 = os.time()
end

function response(status, headers, body)
    responses = responses + 1
    -- HTTP/1.1 header names are case-insensitive; haproxy sends them lowercase
    local location = headers["Location"] or headers["location"] or ""
    if status == 302 and flow == "login" then
        local code = string.match(location, "[?&]code=([^&]+)")
        if code ~= nil then
            table.insert(codes, code)
            return
        end
    end
    attempts = attempts + 1
    if status == 200 then
        ok = ok + 1
    else
        errors = errors + 1
        local k = "n_" .. status
        if _G[k] == nil then
            _G[k] = 0
            seen = seen .. status .. " "
        end
        _G[k] = _G[k] + 1
        if first_at < 0 then
            first_at, first_after, first_status = os.time() - t0, responses, status
            -- what the server said: the error of a redirect, else the body
            first_detail = string.match(location, "[?&](error=[^&]+)") or
                string.sub(string.gsub(body or "", "%s+", " "), 1, 120)
        end
    end
    if quota > 0 and attempts == quota then
        finish()
    end
end

-- finish: stop this thread; the last thread to stop ends the run.
function finish()
    wrk.thread:stop()
    if donefile == nil then return end
    local f = io.open(donefile, "a")
    f:write("done\n")
    f:close()
    local n = 0
    for _ in io.lines(donefile) do n = n + 1 end
    -- os.execute runs sh, whose parent is wrk; the kill comes a moment
    -- later, since system() ignores SIGINT in wrk while sh runs
    if n >= nthreads then os.execute("(sleep 0.1; kill -INT $PPID) &") end
end

function done(summary, latency, requests)
    local total, tries, good, errs, first, by = 0, 0, 0, 0, nil, {}
    for _, t in ipairs(threads) do
        total = total + t:get("responses")
        tries = tries + t:get("attempts")
        good = good + t:get("ok")
        errs = errs + t:get("errors")
        local at = t:get("first_at")
        if at >= 0 and (first == nil or at < first.at) then
            first = { at = at, after = t:get("first_after"), status = t:get("first_status"),
                detail = t:get("first_detail") }
        end
        for s in string.gmatch(t:get("seen"), "%d+") do
            by[s] = (by[s] or 0) + t:get("n_" .. s)
        end
    end
    io.write(string.format("af responses %d\n", total))
    io.write(string.format("af attempts %d\n", tries))
    io.write(string.format("af ok %d\n", good))
    io.write(string.format("af failed %d\n", errs))
    local parts = {}
    for s, n in pairs(by) do table.insert(parts, s .. "x" .. n) end
    table.sort(parts)
    io.write("af statuses " .. (#parts > 0 and table.concat(parts, ",") or "-") .. "\n")
    if first ~= nil then
        io.write(string.format("af first-error %d s, after %d responses of its thread, status %d: %s\n",
            first.at, first.after, first.status, first.detail))
    end
end
