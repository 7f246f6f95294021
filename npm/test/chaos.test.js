// Chaos convergence: K stores (the real package) and writers over REST and
// the CLI, while connections drop, the server is SIGKILLed and restarted,
// and one consumer never reads. At the end every store equals the server,
// no connection carried a duplicate or a gap, no store applied a seq twice
// or skipped one without a snapshot, and no task moved todo -> inprogress twice.
// CI: CHAOS_STORES=5, CHAOS_SECONDS=30. Full: CHAOS_STORES=20 CHAOS_SECONDS=120 (>= 10,000 operations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import { Store } from 'tasksync';
import { Server, until, plain, serverBinary } from './helpers.js';

const STORES = Number(process.env.CHAOS_STORES ?? 5);
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 30);
const run = promisify(execFile);
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A store whose sockets and snapshot fetches are observed from outside. */
function observedStore(server, id) {
  const log = { id, connections: [], applied: [], snapshots: [] };
  const sockets = [];
  class ObservedWebSocket extends WebSocket {
    constructor(url) {
      super(url);
      const conn = { url, hello: null, seqs: [] };
      log.connections.push(conn);
      sockets.push(this);
      this.addEventListener('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'sync:hello') conn.hello = m.payload;
        else if (typeof m.seq === 'number') conn.seqs.push(m.seq);
      });
    }
  }
  const store = new Store({
    url: server.url,
    WebSocket: ObservedWebSocket,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if (String(url).endsWith('/api/snapshot')) {
        const text = await res.text();
        log.snapshots.push({ seq: JSON.parse(text).seq, appliedBefore: log.applied.length });
        return { status: res.status, text: async () => text };
      }
      return res;
    },
  });
  store.on('*', (_p, e) => log.applied.push(e.seq));
  return { store, log, sockets };
}

test(`chaos: ${STORES} stores, ${SECONDS} s of writes, drops, kills and a slow consumer`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const server = new Server();
  server.extraArgs = ['--retain', '10000000'];
  await server.restart();
  const stores = [];
  let ops = 0;
  let failures = 0;
  let kills = 0;
  let drops = 0;
  try {
    for (let i = 0; i < STORES; i++) {
      const s = observedStore(server, i);
      await s.store.connect();
      stores.push(s);
    }
    // the deliberately slow consumer: upgrades, then never reads
    const slow = net.connect(Number(server.url.split(':').pop()), '127.0.0.1');
    slow.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    // (A paused socket never reads, so it cannot even notice a kill; the point
    // is that the server and every other client carry on regardless.)
    slow.on('error', () => {});
    slow.pause();

    const deadline = Date.now() + SECONDS * 1000;
    const tasks = [];
    const sessions = [];
    const api = async (method, path, body) => {
      ops += 1;
      try {
        const r = await server.api(method, path, body);
        if (r.status >= 300) failures += 1;
        return r;
      } catch {
        failures += 1; // server down: expected during a kill
        return { status: 0 };
      }
    };
    // REST writers: tasks, sessions, progress, edits, queue/remove. No task-status
    // writes, so every todo -> inprogress is an auto-transition.
    const writer = async (w) => {
      let n = 0;
      while (Date.now() < deadline) {
        n += 1;
        const r = Math.random();
        if (tasks.length < 5 || r < 0.08) {
          const t = await api('POST', '/api/tasks', { title: `w${w} task ${n}` });
          if (t.status === 201) tasks.push(t.body.id);
        } else if (sessions.length < 3 || r < 0.14) {
          const s = await api('POST', '/api/sessions', { name: `w${w}`, taskIds: [pick(tasks)] });
          if (s.status === 201) sessions.push(s.body.id);
        } else if (r < 0.75) {
          const status = pick(['working', 'working', 'blocked', 'needs_input', 'completed', 'queued']);
          await api('PUT', `/api/tasks/${pick(tasks)}/sessions/${pick(sessions)}/status`, { status, notes: `n${n}` });
        } else if (r < 0.88) {
          await api('PATCH', `/api/tasks/${pick(tasks)}`, { title: `w${w} edit ${n}` });
        } else if (r < 0.95) {
          await api('POST', `/api/tasks/${pick(tasks)}/queue`, { sessionId: pick(sessions) });
        } else {
          await api('DELETE', `/api/tasks/${pick(tasks)}/sessions/${pick(sessions)}`);
        }
      }
    };
    // The CLI, as agents run it.
    const cliWriter = async () => {
      while (Date.now() < deadline) {
        if (tasks.length && sessions.length) {
          ops += 1;
          try {
            await run(serverBinary, ['task', 'update', pick(tasks), '--status', 'working', '--session', pick(sessions)], { env: { ...process.env, TASKSYNC_URL: server.url } });
          } catch {
            failures += 1;
          }
        }
        await sleep(50);
      }
    };
    const chaos = async () => {
      while (Date.now() < deadline - 3000) {
        await sleep(500 + Math.random() * 1000);
        if (Math.random() < 0.35) {
          kills += 1;
          await server.kill();
          await sleep(200 + Math.random() * 800);
          await server.restart();
        } else {
          const s = pick(stores);
          const live = s.sockets.filter((x) => x.readyState === WebSocket.OPEN);
          if (live.length) {
            drops += 1;
            pick(live).close();
          }
        }
      }
    };
    await Promise.all([writer(0), writer(1), writer(2), cliWriter(), chaos()]);

    // Converge.
    const converging = Date.now();
    const report = setInterval(() => {
      const states = stores.map(({ store, log, sockets }) => `${log.id}:${store.connectionState}@${store.seq}/ws${sockets.at(-1)?.readyState}`).join(' ');
      console.log(`converging ${((Date.now() - converging) / 1000).toFixed(0)}s: ${states}`);
    }, 3000);
    // Settled: every store live at the head, and the head still for a second
    // (auto-transitions decided during the faults may still be landing).
    let stable = { seq: -1, since: Date.now() };
    const snap = await until(async () => {
      const s = await server.api('GET', '/api/snapshot').catch(() => null);
      if (!s || s.status !== 200) return null;
      if (s.body.seq !== stable.seq) stable = { seq: s.body.seq, since: Date.now() };
      const ok = stores.every(({ store }) => store.connectionState === 'live' && store.seq === s.body.seq);
      return ok && Date.now() - stable.since > 1000 ? s.body : null;
    }, 'every store live at a settled server head', 60_000).finally(() => clearInterval(report));
    console.log(`converged in ${Date.now() - converging} ms`);
    for (const { store, log } of stores) {
      assert.deepEqual(plain(store), { tasks: snap.tasks, sessions: snap.sessions }, `store ${log.id} equals the server`);
    }
    // The wire: within a connection, seqs are contiguous; a resumed one starts right after `since`.
    for (const { log } of stores) {
      for (const c of log.connections) {
        for (let i = 1; i < c.seqs.length; i++) {
          assert.equal(c.seqs[i], c.seqs[i - 1] + 1, `store ${log.id}: gap or duplicate on one connection (${c.url})`);
        }
        const since = Number(new URL(c.url).searchParams.get('since') ?? NaN);
        if (c.hello?.resumed && c.seqs.length) assert.equal(c.seqs[0], since + 1, `store ${log.id}: resume started at ${c.seqs[0]} after ${since}`);
      }
      // Applied: strictly increasing; a gap only across a snapshot.
      for (let i = 1; i < log.applied.length; i++) {
        const [a, b] = [log.applied[i - 1], log.applied[i]];
        assert.ok(b > a, `store ${log.id} applied seq ${b} after ${a}`);
        if (b !== a + 1) {
          assert.ok(log.snapshots.some((s) => s.appliedBefore === i && s.seq >= b - 1), `store ${log.id} skipped ${a + 1}..${b - 1} without a snapshot`);
        }
      }
    }
    // No task moved todo -> inprogress twice (writers never set task status).
    const moves = new Map();
    const status = new Map();
    for (let since = 0; ;) {
      const page = await server.ok('GET', `/api/events?since=${since}&limit=10000`);
      if (!page.events.length) break;
      for (const e of page.events) {
        if (e.type === 'task:created') status.set(e.payload.task.id, e.payload.task.status);
        if (e.type === 'task:updated') {
          const t = e.payload.task;
          if (status.get(t.id) === 'todo' && t.status === 'inprogress') moves.set(t.id, (moves.get(t.id) ?? 0) + 1);
          status.set(t.id, t.status);
        }
        since = e.seq;
      }
    }
    for (const [id, n] of moves) assert.equal(n, 1, `task ${id} auto-transitioned ${n} times`);
    for (const t of snap.tasks) {
      if (t.sessionProgress.some((p) => p.status === 'working')) assert.notEqual(t.status, 'todo', `task ${t.id} has a working session but is still todo`);
    }
    console.log(`chaos: ${STORES} stores, ${ops} operations (${failures} refused or cut off), ${kills} server kills, ${drops} dropped connections, ${moves.size} auto-transitions, final seq ${snap.seq}`);
    slow.destroy();
  } finally {
    for (const { store } of stores) store.close();
    await server.cleanup();
  }
});
