-- wrk script for roomline's benchmark: builds each request of one workflow and counts
-- the answers. Everything it needs comes from BENCH_* environment variables set by
-- bench/run.py (see bench/seed.py for the arithmetic layout of the seeded data).
--
--   BENCH_WORKFLOW  get | create | update | cancel (Ultimo's), or roomline's own
--                   /api/booking reads: reservation (one seeded reservation by id) |
--                   schedule (five spaces over a seeded day, 30-minute view)
--   BENCH_RUN       a number unique per wrk run, so Create's free slots never repeat
--
-- Expected answers: 2xx, and on Create the business error 1015 (space not available),
-- which ~10% of its requests provoke on purpose. Anything else is an error.

local env = os.getenv
local workflow = env("BENCH_WORKFLOW") or "get"
local key = env("BENCH_API_KEY") or ""
local spaces = tonumber(env("BENCH_SPACES") or "1")
local per_space = tonumber(env("BENCH_PER_SPACE") or "1")
local full_days = tonumber(env("BENCH_FULL_DAYS") or "1")
local day0 = tonumber(env("BENCH_DAY0") or "0")
local free_from = tonumber(env("BENCH_FREE_FROM") or "0")
local slots_per_day = tonumber(env("BENCH_SLOTS_PER_DAY") or "8")
local first_slot = tonumber(env("BENCH_FIRST_SLOT") or "21600")
local pitch = tonumber(env("BENCH_SLOT_PITCH") or "5400")
local length = tonumber(env("BENCH_SLOT_LENGTH") or "3600")
local people = tonumber(env("BENCH_PEOPLE") or "1")
local run = tonumber(env("BENCH_RUN") or "0")
local thread_count = tonumber(env("BENCH_THREADS") or "1")
local conflict_share = tonumber(env("BENCH_CONFLICT_SHARE") or "0.1")
-- Each run books its free slots in its own 400-day stretch after the seeded days.
local RUN_SPAN = 400 * 86400

local names = {
  get = "REST_GetReservationsForSpace",
  create = "REST_CreateReservation",
  update = "REST_UpdateReservation",
  cancel = "REST_CancelReservation",
}
local element_ids = {
  get = "860ea091-4d76-47d9-a733-c3bb18440dde",
  create = "0167a94a-5dae-4efe-bf13-029a47728b97",
  update = "3736d834-fa5e-4edc-9abd-f38962ff8afd",
  cancel = "5d5a10ee-7b14-4dd4-8683-33822ea56f12",
}
local booking = workflow == "reservation" or workflow == "schedule"
local path = booking and "" or "/api/V1/Action/" .. names[workflow]
local headers = booking and { ["ApiKey"] = key } or {
  ["ApiKey"] = key,
  ["ApplicationElementId"] = element_ids[workflow],
  ["Content-Type"] = "application/json",
}

-- Main state: one entry per wrk thread, read back in done().
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (globals, so done() can read them through thread:get).
ok = 0
conflicts = 0
bad = 0
thread_index = 0
local free_counters = {}

function init(args)
  math.randomseed(os.time() * 1000 + thread_index * 7919 + run)
end

local function at(epoch)
  return os.date("!%Y-%m-%d %H:%M:%S", epoch)
end

local function space_name(index)
  return string.format("S%04d", index + 1)
end

local function slot_start(k)
  return day0 + math.floor(k / slots_per_day) * 86400 + first_slot + (k % slots_per_day) * pitch
end

local function seeded_id(space, k)
  return string.format("%011d", space * per_space + k + 1)
end

local builders = {}

function builders.get()
  local from = day0 + math.random(0, full_days - 1) * 86400
  return string.format('{"SpaceId":"%s","From":"%s","Till":"%s"}',
    space_name(math.random(0, spaces - 1)), at(from), at(from + 86400))
end

function builders.create()
  local space = math.random(0, spaces - 1)
  local start
  if math.random() < conflict_share then
    start = slot_start(math.random(0, per_space - 1)) -- lands on a seeded reservation
  else
    local n = free_counters[space] or 0
    free_counters[space] = n + 1
    start = free_from + run * RUN_SPAN + (n * thread_count + thread_index) * pitch
  end
  return string.format(
    '{"ExternalId":"","Description":"Bench create","SpaceId":"%s","StartTime":"%s",' ..
    '"EndTime":"%s","ApplicantId":"P%03d"}',
    space_name(space), at(start), at(start + length), math.random(1, people))
end

-- Updates take the even slots and cancels the odd ones, so that with several worker
-- counts measured on one database no update meets a reservation a cancel took.
function builders.update()
  local space, k = math.random(0, spaces - 1), 2 * math.random(0, math.floor((per_space - 1) / 2))
  local start = slot_start(k)
  -- Alternate between the seeded end and 10 minutes later: never into the neighbour.
  local stretch = math.random(0, 1) * 600
  return string.format('{"UltimoId":"%s","StartTime":"%s","EndTime":"%s"}',
    seeded_id(space, k), at(start), at(start + length + stretch))
end

function builders.cancel()
  return string.format('{"UltimoId":"%s"}',
    seeded_id(math.random(0, spaces - 1), 2 * math.random(0, math.floor(per_space / 2) - 1) + 1))
end

-- roomline's own reads build a path, not a body.
function builders.reservation()
  local space, k = math.random(0, spaces - 1), math.random(0, per_space - 1)
  return "/api/booking/reservations/" .. seeded_id(space, k)
end

function builders.schedule()
  local first = math.random(0, spaces - 5)
  local ids = {}
  for i = 0, 4 do
    ids[#ids + 1] = space_name(first + i)
  end
  local from = day0 + math.random(0, full_days - 1) * 86400
  return string.format("/api/booking/schedule?spaces=%s&start=%s&end=%s&interval=30",
    table.concat(ids, ","), os.date("!%Y-%m-%dT%H:%M:%SZ", from),
    os.date("!%Y-%m-%dT%H:%M:%SZ", from + 86400))
end

local build = builders[workflow]

function request()
  if booking then
    return wrk.format("GET", build(), headers)
  end
  return wrk.format("POST", path, headers, build())
end

function response(status, _, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 400 and body and string.find(body, '"code":"1015"', 1, true) then
    conflicts = conflicts + 1
  else
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write(string.format("unexpected %d: %s\n", status, tostring(body):sub(1, 300)))
    end
  end
end

function done(summary, latency, _)
  local total_ok, total_conflicts, total_bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_conflicts = total_conflicts + thread:get("conflicts")
    total_bad = total_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"conflicts":%d,"bad_responses":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, total_ok, total_conflicts, total_bad,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.max))
end
