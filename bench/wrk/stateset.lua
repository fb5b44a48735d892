-- One wrk script for every scenario of bench/run.sh, chosen by BENCH_MODE:
--   products  GraphQL products(first: 20) with each variant's id, title, price and stock
--   product   GraphQL product(slug:), rotating over the slugs in BENCH_DATA
--   add       GraphQL addCartItem, rotating over the "cart variant" lines in BENCH_DATA
--   place     REST POST /api/v1/orders (reserving stock), rotating over the variants in BENCH_DATA
--   orders    REST GET /api/v1/orders?limit=20
--   complete  REST POST /api/v1/checkout/{id}/complete, each of the checkouts in BENCH_DATA
--             once: thread n of N (N is the script's argument) completes lines n, n+N, ...
--             and stops when its share is done, so no checkout is completed twice; since wrk
--             still divides by the whole duration, running out is reported (EXHAUSTED) and
--             bench/run.sh refuses the figure
--   health    GET /health (also the bare axum server's)
-- BENCH_TOKEN, when set, is sent as a bearer token; BENCH_CUSTOMER is whom orders are for. Every answer is checked: a status other
-- than 200/201, or a GraphQL answer with "errors", counts as an error. done() prints one
-- RESULT line with the totals of every thread.

local mode = os.getenv("BENCH_MODE") or "health"
local token = os.getenv("BENCH_TOKEN")
local data_file = os.getenv("BENCH_DATA")
local customer = os.getenv("BENCH_CUSTOMER") or ""

local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("number", thread_number)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then table.insert(lines, line) end
    end
  end
  return lines
end

local function words(line)
  local out = {}
  for word in line:gmatch("%S+") do table.insert(out, word) end
  return out
end

local function graphql(query)
  local escaped = query:gsub('\\', '\\\\'):gsub('"', '\\"')
  return '{"query":"' .. escaped .. '"}'
end

local bodies = {}
local next_body = 1
-- Globals, not locals: done() reads them from each thread with thread:get.
checked = 0
errors = 0
first_error = nil

local headers = { ["content-type"] = "application/json" }

-- A global, for done(): this thread used up its share of the checkouts.
finished = false

function init(args)
  if token and token ~= "" then headers["authorization"] = "Bearer " .. token end
  local lines = read_lines(data_file)
  if mode == "products" then
    bodies = { graphql("{ products(first: 20) { nodes { id name variants { id title price { amount currency } available } } } }") }
  elseif mode == "product" then
    for _, slug in ipairs(lines) do
      table.insert(bodies, graphql('{ product(slug: "' .. slug .. '") { id name slug description variants { id title price { amount currency } available } } }'))
    end
  elseif mode == "add" then
    for _, line in ipairs(lines) do
      local w = words(line)
      table.insert(bodies, graphql('mutation { addCartItem(cartId: "' .. w[1] .. '", input: { variantId: "' .. w[2] .. '", quantity: 1 }) { id itemCount } }'))
    end
  elseif mode == "complete" then
    local of = tonumber(args[1]) or 1
    local number = wrk.thread:get("number") or 1
    for i, id in ipairs(lines) do
      if (i - 1) % of == number - 1 then
        table.insert(bodies, "/api/v1/checkout/" .. id .. "/complete")
      end
    end
  elseif mode == "place" then
    for _, variant in ipairs(lines) do
      table.insert(bodies, '{"customer_id":"' .. customer .. '","items":[{"variant_id":"' .. variant .. '","quantity":1}],' ..
        '"shipping_address":{"line1":"1 Bench St","city":"Austin","region":"TX","postal_code":"78701","country":"US"}}')
    end
  end
  -- Threads start at different places in the rotation, so they do not move in step.
  local number = wrk.thread:get("number") or 1
  if #bodies > 0 and mode ~= "complete" then next_body = ((number - 1) * 37) % #bodies + 1 end
end

function request()
  if mode == "health" then
    return wrk.format("GET", "/health", headers)
  elseif mode == "orders" then
    return wrk.format("GET", "/api/v1/orders?limit=20", headers)
  end
  if mode == "complete" then
    local path = bodies[next_body]
    if next_body >= #bodies then
      -- This thread's share is used up: the last one is sent again (answered from the
      -- completed checkout) while the thread stops.
      if not finished then finished = true else wrk.thread:stop() end
    else
      next_body = next_body + 1
    end
    return wrk.format("POST", path, headers, "")
  end
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  local path = (mode == "place") and "/api/v1/orders" or "/graphql"
  return wrk.format("POST", path, headers, body)
end

function response(status, _, body)
  checked = checked + 1
  local bad = (status ~= 200 and status ~= 201)
  if not bad and body and body:find('"errors":', 1, true) then bad = true end
  if bad then
    errors = errors + 1
    if not first_error then first_error = status .. " " .. (body or ""):sub(1, 300) end
  end
end

function done(summary, latency, _)
  local total_checked, total_errors, sample = 0, 0, nil
  for _, thread in ipairs(threads) do
    if thread:get("finished") then io.write("EXHAUSTED a thread used up its checkouts\n") end
    total_checked = total_checked + (thread:get("checked") or 0)
    total_errors = total_errors + (thread:get("errors") or 0)
    sample = sample or thread:get("first_error")
  end
  local seconds = summary.duration / 1e6
  -- Bad statuses are counted by response() already; these never got one.
  local transport = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT scenario=%s requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f errors=%d checked=%d\n",
    mode, summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    total_errors + transport, total_checked))
  if sample then io.write("FIRST_ERROR " .. sample:gsub("\n", " ") .. "\n") end
end
