-- wrk script: client_credentials grant at /token with Basic auth.
-- The credentials come from the environment (set by bench.sh).
local id = os.getenv("AF_BENCH_CLIENT") or "bench-client"
local secret = os.getenv("AF_BENCH_SECRET") or "bench-secret"

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

wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. b64(id .. ":" .. secret)

local non200 = 0
response = function(status, headers, body)
    if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary, latency, requests)
    io.write(string.format("non-200: %d\n", non200))
end
