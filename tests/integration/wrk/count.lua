-- SPDX-License-Identifier: GPL-2.0-only
--
-- wrk 4.1 script that sends an exact, known number of requests and counts what it got.
--
--   wrk -t N -c N -d 60s -s count.lua URL -- QUOTA [MIX [PATH...]]
--
-- Run with as many threads as connections: each thread then owns one keep-alive
-- connection, sends QUOTA requests on it one after another and stops its event loop from
-- response() when the QUOTA-th response is in. No request is in flight at that moment
-- (wrk writes the next request only on a later writable event), so requests sent equals
-- responses received. wrk's main thread still sleeps for -d; each thread prints
--   SONDE_WRK_THREAD_DONE <id>
-- when it stops, and the caller then sends SIGINT, which ends that sleep. done() prints
--   SONDE_WRK_RESULT {json}
-- with the totals and counts per (method, route, status), route being the chi pattern of
-- the request (e.g. /api/v1/orders/{id}) or the literal path.
--
-- MIX "api" (default) cycles over the trade-engine routes below; MIX "get" cycles over
-- GET of the PATHs given (default: the URL's path); MIX "words" [START] sends GET /w/WORD,
-- WORD a different run of letters for every request of the run (no route template folds
-- it: a service's distinct paths), counted under the route "/w/{word}"; runs with STARTs
-- 10,000,000 apart never repeat a word.

local api_mix = {
	{ method = "GET", route = "/api/v1/orders/{id}", path = "/api/v1/orders/%d" },
	{ method = "POST", route = "/api/v1/orders", path = "/api/v1/orders", body = true },
	{ method = "GET", route = "/api/v1/orders/{id}", path = "/api/v1/orders/%d" },
	{ method = "GET", route = "/api/v1/orders/{id}/fail", path = "/api/v1/orders/%d/fail" },
	{ method = "GET", route = "/api/v1/orders/{id}", path = "/api/v1/orders/%d" },
	{ method = "GET", route = "/api/v1/missing/{id}", path = "/api/v1/missing/%d" },
}

-- Main Lua state: remember every thread so done() can collect their tables.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

-- Per-thread Lua state from here on (id was set by setup() before init() runs).
function init(args)
	-- args[0] is the URL; what follows "--" starts at args[1].
	quota = tonumber(args[1])
	if quota == nil or quota < 1 then
		error("count.lua: first argument after -- must be the requests per connection")
	end
	mix = {}
	if args[2] == nil or args[2] == "api" then
		mix = api_mix
	elseif args[2] == "get" then
		local i = 3
		while args[i] ~= nil do
			table.insert(mix, { method = "GET", route = args[i], path = args[i] })
			i = i + 1
		end
		if #mix == 0 then
			table.insert(mix, { method = "GET", route = wrk.path, path = wrk.path })
		end
	elseif args[2] == "words" then
		table.insert(mix, { method = "GET", route = "/w/{word}", words = true })
		words_start = tonumber(args[3] or "0")
	else
		error("count.lua: unknown mix '" .. tostring(args[2]) .. "' (want api, get or words)")
	end
	sent, received = 0, 0
	sent_by, counts = {}, {}
	inflight, head, tail = {}, 1, 0
	-- wrk calls request() once in the first thread before starting it, to check the
	-- request parses; that request is never sent, so it must not be counted.
	verify_call = (id == 1)
	finished = false
end

-- n >= 0 in base 26 with the digits a..z: distinct numbers, distinct words.
function letters(n)
	local out = {}
	repeat
		table.insert(out, 1, string.char(97 + n % 26))
		n = math.floor(n / 26)
	until n == 0
	return table.concat(out)
end

function request()
	local n = sent % #mix + 1
	local item = mix[n]
	local seq = id * 1000000 + sent
	local path = item.path
	if item.words then
		path = "/w/" .. letters(words_start + seq)
	elseif string.find(path, "%%d") then
		path = string.format(path, seq)
	end
	local headers, body = {}, nil
	if item.body then
		body = string.format('{"symbol":"ACME","qty":%d,"price":12.5}', seq % 1000 + 1)
		headers["Content-Type"] = "application/json"
	end
	local req = wrk.format(item.method, path, headers, body)
	if verify_call then
		verify_call = false
		return req
	end
	sent = sent + 1
	local key = item.method .. " " .. item.route
	sent_by[key] = (sent_by[key] or 0) + 1
	tail = tail + 1
	inflight[tail] = key
	return req
end

function response(status, headers, body)
	local key = inflight[head] or "? ?"
	inflight[head] = nil
	head = head + 1
	received = received + 1
	key = key .. " " .. status
	counts[key] = (counts[key] or 0) + 1
	if received >= quota and not finished then
		finished = true
		io.write(string.format("SONDE_WRK_THREAD_DONE %d\n", id))
		io.flush()
		wrk.thread:stop()
	end
end

local function json_string(s)
	return '"' .. string.gsub(s, '[%c"\\]', function(c)
		return string.format("\\u%04x", string.byte(c))
	end) .. '"'
end

-- Splits "METHOD ROUTE[ STATUS]"; routes never contain spaces.
local function json_rows(tbl, with_status)
	local rows = {}
	for key, n in pairs(tbl) do
		local method, rest = string.match(key, "^(%S+) (.*)$")
		local route, status = rest, nil
		if with_status then
			route, status = string.match(rest, "^(.*) (%d+)$")
		end
		local row = '{"method":' .. json_string(method) .. ',"route":' .. json_string(route)
		if status then
			row = row .. ',"status":' .. status
		end
		table.insert(rows, row .. ',"count":' .. string.format("%d", n) .. "}")
	end
	table.sort(rows)
	return "[" .. table.concat(rows, ",") .. "]"
end

local function merge(into, from)
	for k, v in pairs(from or {}) do
		into[k] = (into[k] or 0) + v
	end
end

function done(summary, latency, requests)
	local all_sent, all_counts, per_thread = {}, {}, {}
	local nsent, nreceived, complete = 0, 0, true
	for _, t in ipairs(threads) do
		local s, r, q = t:get("sent") or 0, t:get("received") or 0, t:get("quota") or 0
		nsent, nreceived = nsent + s, nreceived + r
		complete = complete and t:get("finished") == true and s == q and r == q
		merge(all_sent, t:get("sent_by"))
		merge(all_counts, t:get("counts"))
		table.insert(per_thread, string.format('{"id":%d,"sent":%d,"received":%d}',
			t:get("id"), s, r))
	end
	local e = summary.errors
	io.write("SONDE_WRK_RESULT {",
		string.format('"threads":%d,"sent":%d,"received":%d,', #threads, nsent, nreceived),
		'"complete":', tostring(complete), ",",
		string.format('"wrk_requests":%d,', summary.requests),
		string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},',
			e.connect, e.read, e.write, e.timeout, e.status),
		'"per_thread":[', table.concat(per_thread, ","), "],",
		'"sent_by":', json_rows(all_sent, false), ",",
		'"counts":', json_rows(all_counts, true), "}\n")
	io.flush()
end
