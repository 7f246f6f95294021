// The Store builds the object of a frame's one plain change from its own
// JSON.parse of the frame (the engine only says which change it was). This
// checks, differentially, that those objects are exactly what the engine
// itself shows: a Store and a bare engine get the same random stream
// (stale and repeated versions, replays, gaps, malformed frames, deletes,
// sessions) and the same writes (pending: nothing answers), and after every
// step every task and session the Store hands out equals the engine's copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from 'tasksync';
import { Engine } from '../pkg/tasksync.js';
import { memory } from '../engine.js';

/** Writes `text` into a bare engine's inbox; its length in bytes. */
function inbox(engine, text) {
  const bytes = new TextEncoder().encode(text);
  new Uint8Array(memory().buffer, engine.inbox(bytes.length), bytes.length).set(bytes);
  return bytes.length;
}

/** splitmix32: a small seeded generator, so a failure names its seed. */
function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

const TASKS = ['t0', 't1', 't2', 't3', 't4', 't5'];
const SESSIONS = ['s0', 's1', 's2', 's3'];
const STATUSES = ['queued', 'working', 'needs_input', 'blocked', 'completed', 'failed', 'cancelled'];
const LIFECYCLE = ['spawning', 'active', 'stopped', 'failed'];
const NOTES = [undefined, null, 'Need API key', 'Got it, continuing', 'ünïcødé ✓ "quoted"'];

function run(seed, steps) {
  const r = rng(seed);
  const fetch = () => new Promise(() => {}); // nothing answers: writes and autos stay pending
  const store = new Store({ url: 'http://127.0.0.1:1', outbox: null, fetch });
  store.on('error', () => {}); // (gaps are reported; they are part of the stream)
  const engine = new Engine(JSON.stringify({ url: 'http://127.0.0.1:1', token: null, autoTransition: true, clientId: 'x', seed: 1 }));
  const now = Date.now();
  const versions = new Map(); // the stream's own idea of each entity's version
  let seq = 0;
  const feed = (text) => {
    store.applyMessage(text);
    engine.messageIn(now, inbox(engine, text));
  };
  const write = (name, args, cmd) => {
    store[name](...args).catch(() => {});
    engine.write(now, JSON.stringify(cmd));
    engine.pending();
  };
  const version = (id) => {
    const v = versions.get(id) ?? 0;
    const next = r.next() < 0.1 ? Math.max(1, v - r.int(2)) : v + 1; // sometimes stale or repeated
    versions.set(id, Math.max(v, next));
    return next;
  };
  const task = (id) => ({
    id, title: `Task ${id} ${r.int(100)}`, ...(r.next() < 0.5 ? { description: 'notes' } : {}),
    status: r.pick(['todo', 'todo', 'inprogress', 'completed']), priority: r.pick(['low', 'medium', 'high']),
    sessionIds: [], sessionProgress: [], createdAt: `2026-11-30T00:00:0${TASKS.indexOf(id)}Z`,
    updatedAt: `2026-11-30T00:00:${10 + r.int(50)}Z`, version: version(id),
  });
  const session = (id) => ({
    id, status: r.pick(LIFECYCLE), taskIds: [], spawnSource: r.pick(['ui', 'session']),
    createdAt: `2026-11-30T00:01:0${SESSIONS.indexOf(id)}Z`, updatedAt: 'u', version: version(id),
  });
  feed(JSON.stringify({ type: 'sync:hello', payload: { epoch: 'e', seq: 0, resumed: false } }));
  const empty = JSON.stringify({ epoch: 'e', seq: 0, tasks: [], sessions: [] });
  store.loadSnapshot(empty);
  engine.snapshotPiece(inbox(engine, empty));
  engine.snapshotEnd(now, -1);
  for (let step = 0; step < steps; step++) {
    const x = r.next();
    const t = r.pick(TASKS);
    const s = r.pick(SESSIONS);
    let frame;
    if (x < 0.15) frame = { type: r.pick(['task:created', 'task:updated']), payload: { task: task(t) } };
    else if (x < 0.2) frame = { type: 'task:deleted', payload: { taskId: t } };
    else if (x < 0.7) {
      const notes = r.pick(NOTES);
      frame = { type: 'task:session_status', payload: { taskId: t, sessionId: s, status: r.pick(STATUSES), ...(notes === undefined ? {} : { notes }), lastUpdated: `2026-11-30T00:02:${10 + r.int(50)}Z`, version: version(t) } };
    } else if (x < 0.78) frame = { type: r.pick(['session:spawn', 'session:updated']), payload: { session: session(s) } };
    else if (x < 0.8) frame = { type: 'session:deleted', payload: { sessionId: s } };
    else if (x < 0.86) {
      write('updateTask', [t, { title: `edited ${step}` }], { op: 'updateTask', id: t, patch: { title: `edited ${step}` }, ifMatch: null });
    } else if (x < 0.9) {
      write('setSessionStatus', [t, s, 'blocked', 'from here'], { op: 'setSessionStatus', taskId: t, sessionId: s, status: 'blocked', notes: 'from here' });
    } else if (x < 0.93) {
      feed(r.pick(['{not json', '{"type":"task:updated","payload":{"task":{"id":"t1"}},"seq":1}', '[]', '{"type":"task:session_status","payload":{"taskId":"t1","sessionId":"s1","status":"nope","lastUpdated":"l","version":99},"seq":1}']));
    } else if (x < 0.945) {
      // Near the server's exact layout of a status frame (which the Store
      // reads without JSON.parse): each must be read as JSON.parse reads it,
      // or refused as the engine refuses it.
      const v = version(t);
      const n = seq + 1;
      const near = [
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"working","notes":null,"lastUpdated":"2026-11-30T00:03:00Z","version":${v}},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"working","notes":"a \\"b\\" \\u00e9","lastUpdated":"2026-11-30T00:03:01Z","version":${v}},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"blocked","lastUpdated":"2026-11-30T00:03:02Z","version":${v}.5},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"blocked","lastUpdated":"2026-11-30T00:03:03Z","version":${v}},"seq":${n}} `,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"blocked","lastUpdated":"2026-11-30T00:03:04Z","version":${v}},"seq":${n}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"blocked","lastUpdated":"2026-11-30T00:03:05Z","version":${v},"extra":1},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"completed","lastUpdated":"2026-11-30T00:03:06Z","version":1e1},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"completed","notes":"ünï","lastUpdated":"2026-11-30T00:03:07Z","version":${v}},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"completed","lastUpdated":"2026-11-30T00:03:08Z","version":${v}},"seq":-${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"failed","lastUpdated":"2026-11-30T00:03:09Z"},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"failed","lastUpdated":"2026-11-30T00:03:10Z","version":0${v}},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"failed","lastUpdated":"2026-11-30T00:03:11Z","version":${v}},"seq":0${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"failed","notes":"raw\ttab","lastUpdated":"2026-11-30T00:03:12Z","version":${v}},"seq":${n}}`,
        `{"type":"task:session_status","payload":{"taskId":"${t}","sessionId":"${s}","status":"working","notes":"","lastUpdated":"2026-11-30T00:03:13Z","version":${v}},"seq":${n}}`,
      ];
      feed(r.pick(near));
      seq = n;
    } else if (x < 0.96) {
      feed(JSON.stringify({ type: 'ping', payload: {} }));
    } // else: a read-only step
    if (frame) {
      // mostly the next seq; sometimes a replay (dropped) or, rarely, a gap (reported, applied)
      const y = r.next();
      frame.seq = y < 0.05 ? Math.max(1, seq) : y < 0.07 ? seq + 2 : seq + 1;
      seq = Math.max(seq, frame.seq);
      feed(JSON.stringify(frame));
    }
    // Read a few (so some objects are cached and patched, others are not), and sometimes compare all.
    for (let i = r.int(3); i > 0; i--) store.getTask(r.pick(TASKS));
    if (r.next() < 0.3) {
      for (const id of TASKS) {
        const mine = engine.task(id);
        assert.deepEqual(store.getTask(id), mine === undefined ? undefined : JSON.parse(mine), `seed ${seed}, step ${step}: task ${id}`);
      }
      // the lists too (the Store patches its list in place as objects
      // change, and appends what the engine says came after its last one):
      // every entity the engine shows, by creation time, then id
      const listed = (ids, read) => ids.map(read).filter((x) => x !== undefined).map((x) => JSON.parse(x))
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      assert.deepEqual(store.getTasks(), listed(TASKS, (id) => engine.task(id)), `seed ${seed}, step ${step}: getTasks()`);
      assert.deepEqual(store.getSessions(), listed(SESSIONS, (id) => engine.session(id)), `seed ${seed}, step ${step}: getSessions()`);
      for (const id of SESSIONS) {
        const mine = engine.session(id);
        assert.deepEqual(store.getSession(id), mine === undefined ? undefined : JSON.parse(mine), `seed ${seed}, step ${step}: session ${id}`);
      }
    }
  }
  store.free();
  engine.free();
}

test('objects built from the Store\'s own parse equal the engine\'s, through 200 random streams', () => {
  const seeds = Number(process.env.PLAIN_SEEDS ?? 200);
  // One clock for both (a pending write shows its local time), and no await:
  // no timer of the Store's runs in between.
  const realNow = Date.now;
  const fixed = realNow();
  Date.now = () => fixed;
  try {
    for (let seed = 1; seed <= seeds; seed++) run(seed, 300);
  } finally {
    Date.now = realNow;
  }
});
