// Live subscriptions at scale (bench/run.sh `subscriptions`).
//
// Opens COUNT WebSocket connections to the server with the reference `graphql-ws` client, each
// holding one `events(types: ["product.updated"])` subscription, proves every one of them live,
// reads the server's resident memory from /proc while they sit idle, then updates one product
// ROUNDS times through REST and times each delivery: from the event's `occurredAt` (stamped in
// the writing transaction, so the figure includes the rest of that transaction and its commit)
// to the moment this process handles the frame. It prints one RESULT line.
//
// Usage: node subscribers.mjs <http-base> <count> <admin-token> <product-slug> <rounds> <server-pid>
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, countArg, token, slug, roundsArg, serverPid] = process.argv.slice(2);
const count = Number(countArg);
const rounds = Number(roundsArg);
if (!base || !(count > 0) || !token || !slug || !(rounds > 0) || !serverPid) {
  console.error('usage: node subscribers.mjs <http-base> <count> <admin-token> <product-slug> <rounds> <server-pid>');
  process.exit(2);
}
const wsUrl = `${base.replace(/^http/, 'ws')}/graphql/ws`;
const BATCH = 250;
const SUBSCRIPTION = 'subscription { events(types: ["product.updated"]) { sequence occurredAt } }';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fail = (message) => {
  console.error(`ERROR: ${message}`);
  process.exit(1);
};

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]);
  return kib / 1024;
}

// An RFC 3339 timestamp to milliseconds since the epoch, keeping the microseconds that
// Date.parse would drop.
function epochMs(stamp) {
  const match = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!match) fail(`unexpected occurredAt ${stamp}`);
  return Date.parse(`${match[1]}${match[3]}`) + Number(match[2] ?? 0) * 1000;
}

async function call(method, path, body) {
  const answer = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  if (!answer.ok) fail(`${method} ${path}: ${answer.status} ${text}`);
  return JSON.parse(text);
}

// Each subscriber: the sequences it has received and when.
const received = Array.from({ length: count }, () => new Map());
let failures = 0;
let firstFailure;
const clients = [];

function open(index) {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
      on: {
        connected: () => resolve(client),
        error: reject,
        // Closed before it was acknowledged (refused credentials, say): no `error` follows.
        closed: (event) => reject(new Error(`closed with ${event?.code} ${event?.reason ?? ''}`)),
      },
    });
    client.subscribe(
      { query: SUBSCRIPTION },
      {
        next: (result) => {
          const at = now();
          if (result.errors) {
            failures += 1;
            firstFailure ??= JSON.stringify(result.errors);
            return;
          }
          const event = result.data.events;
          received[index].set(event.sequence, at - epochMs(event.occurredAt));
        },
        error: (error) => {
          failures += 1;
          firstFailure ??= String(error?.reason ?? error?.message ?? error);
        },
        complete: () => {
          failures += 1;
          firstFailure ??= 'the server completed a subscription';
        },
      },
    );
    clients.push(client);
  });
}

const rssBefore = rssMiB(serverPid);
const openedAt = now();
for (let first = 0; first < count; first += BATCH) {
  const batch = [];
  for (let i = first; i < Math.min(count, first + BATCH); i += 1) batch.push(open(i));
  try {
    await Promise.race([
      Promise.all(batch),
      sleep(30000).then(() => {
        throw new Error('no acknowledgement within 30 s');
      }),
    ]);
  } catch (error) {
    fail(`connection ${clients.length} of ${count} failed: ${error?.message ?? error}`);
  }
}
const openSeconds = (now() - openedAt) / 1000;

const product = await call('POST', '/graphql', { query: `{ product(slug: "${slug}") { id } }` });
const productId = product.data?.product?.id ?? fail(`no product ${slug}: ${JSON.stringify(product)}`);

// Subscriptions start on the server a moment after their connection is acknowledged: update
// until one event has reached every subscriber, so that every one of them is proven live.
let live = false;
for (let attempt = 1; attempt <= 20 && !live; attempt += 1) {
  await call('PUT', `/api/v1/products/${productId}`, { description: `warm-up ${attempt}` });
  const deadline = now() + 3000;
  while (now() < deadline) {
    if (received.every((got) => got.size > 0)) {
      live = true;
      break;
    }
    await sleep(20);
  }
}
if (!live) {
  const silent = received.filter((got) => got.size === 0).length;
  fail(`${silent} of ${count} subscribers never received an event`);
}
await sleep(1000);
const rssIdle = rssMiB(serverPid);

// The measured rounds: one update, then wait for every subscriber to have its event. The
// answer does not carry the event's sequence: it is the first one above every sequence any
// subscriber had seen before the update.
const highest = () => Math.max(...received.map((got) => Math.max(-1, ...got.keys())));
const latencies = [];
const slowest = [];
for (let r = 1; r <= rounds; r += 1) {
  const before = highest();
  await call('PUT', `/api/v1/products/${productId}`, { description: `round ${r}` });
  const deadline = now() + 10000;
  let sequence;
  while (sequence === undefined && now() < deadline) {
    const newer = received.flatMap((got) => [...got.keys()].filter((s) => s > before));
    if (newer.length > 0) sequence = Math.min(...newer);
    else await sleep(5);
  }
  if (sequence === undefined) fail(`round ${r}: no subscriber had the event after 10 s`);
  while (received.some((got) => !got.has(sequence)) && now() < deadline) await sleep(5);
  const late = received.filter((got) => !got.has(sequence)).length;
  if (late > 0) fail(`round ${r}: ${late} of ${count} subscribers had no event after 10 s`);
  let worst = 0;
  for (const got of received) {
    const latency = got.get(sequence);
    latencies.push(latency);
    worst = Math.max(worst, latency);
  }
  slowest.push(worst);
  await sleep(250);
}
const rssAfter = rssMiB(serverPid);
for (const client of clients) client.dispose();

const sorted = (values) => [...values].sort((a, b) => a - b);
const pick = (values, q) => values[Math.min(values.length - 1, Math.floor(values.length * q))];
const all = sorted(latencies);
const worst = sorted(slowest);
console.log(
  [
    'RESULT scenario=subscriptions',
    `subscribers=${count}`,
    `rounds=${rounds}`,
    `deliveries=${all.length}`,
    `p50_ms=${pick(all, 0.5).toFixed(2)}`,
    `p99_ms=${pick(all, 0.99).toFixed(2)}`,
    `all_delivered_p50_ms=${pick(worst, 0.5).toFixed(2)}`,
    `all_delivered_max_ms=${worst.at(-1).toFixed(2)}`,
    `rss_before_mib=${rssBefore.toFixed(1)}`,
    `rss_idle_mib=${rssIdle.toFixed(1)}`,
    `rss_after_mib=${rssAfter.toFixed(1)}`,
    `kib_per_subscriber=${(((rssIdle - rssBefore) * 1024) / count).toFixed(1)}`,
    `open_s=${openSeconds.toFixed(1)}`,
    `errors=${failures}`,
  ].join(' '),
);
if (failures > 0) console.error(`FIRST_ERROR ${firstFailure}`);
process.exit(0);
