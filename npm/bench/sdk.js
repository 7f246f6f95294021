// The Store against the seed's plain JavaScript, same frames, same process,
// alternating runs, medians. Prints a markdown table of rates and ratios:
//   (a) replay, every event applied, getTasks() every 100 events;
//   (b) replay, getTask(id) of the touched task after every event;
//   (c) a 10,000-task snapshot: loadSnapshot + first getTasks() vs JSON.parse + a Map;
//   (d) memory after 10,000 tasks (JS heap + wasm memory), in child processes;
//   (e) size: wasm + JS, gzip -9;
//   (f) a large board: status events on the 10,000 snapshot tasks (no target).
// Each replay ends with a differential check: the tasks the Store hands out
// must equal the seed's (on the fields the seed keeps), so speed is not
// bought with wrong answers.
// Usage: node --expose-gc bench/sdk.js   (RUNS=N, default 7; records
// bench/stream.jsonl from the real server first if it is missing)
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Store } from 'tasksync';

const RUNS = Number(process.env.RUNS ?? 7);
const BATCH = 100;
const SNAPSHOT_TASKS = 10_000;

// ----- the seed's client, as plain JavaScript -----

function seedStore() {
  const tasks = new Map();
  const sessions = new Map();
  const on = {
    'task:created': ({ task }) => { tasks.set(task.id, task); },
    'task:updated': ({ task }) => { tasks.set(task.id, task); },
    'task:deleted': ({ taskId }) => { tasks.delete(taskId); },
    'task:session_status': ({ taskId, sessionId, status, notes, lastUpdated }) => {
      const task = tasks.get(taskId);
      if (!task) return;
      const progress = task.sessionProgress.find((p) => p.sessionId === sessionId);
      if (progress) {
        progress.status = status;
        progress.notes = notes;
        progress.lastUpdated = lastUpdated;
      } else {
        task.sessionProgress.push({ sessionId, status, notes, lastUpdated });
      }
    },
    'session:spawn': ({ session }) => { sessions.set(session.id, session); },
    'session:updated': ({ session }) => { sessions.set(session.id, session); },
  };
  return {
    apply(text) {
      const { type, payload } = JSON.parse(text);
      on[type]?.(payload);
    },
    getTasks: () => [...tasks.values()],
    getTask: (id) => tasks.get(id),
    load(text) {
      for (const t of JSON.parse(text).tasks) tasks.set(t.id, t);
    },
  };
}

function wasmStore() {
  return new Store({ url: 'http://127.0.0.1:1', autoTransition: false, outbox: null });
}

/** What the seed keeps of a task (it does not bump version/updatedAt on progress). */
function seedView(t) {
  return JSON.stringify({
    id: t.id, title: t.title, description: t.description, status: t.status, priority: t.priority,
    sessionProgress: t.sessionProgress.map((p) => ({ sessionId: p.sessionId, status: p.status, notes: p.notes, lastUpdated: p.lastUpdated })),
  });
}

function sameTasks(seedTasks, storeTasks, what) {
  const a = seedTasks.map(seedView).sort();
  const b = storeTasks.map(seedView).sort();
  assert.equal(b.length, a.length, `${what}: task count`);
  for (let i = 0; i < a.length; i++) assert.equal(b[i], a[i], `${what}: task differs`);
}

// ----- the contenders -----

function replayAll(lines, make, apply, getTasks) {
  const s = make();
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    apply(s, lines[i]);
    if ((i + 1) % BATCH === 0) {
      const tasks = getTasks(s);
      for (let j = 0; j < tasks.length; j++) sink += tasks[j].sessionProgress.length;
    }
  }
  return { ms: performance.now() - t0, sink, store: s };
}

function replayOne(lines, touched, make, apply, getTask) {
  const s = make();
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    apply(s, lines[i]);
    const id = touched[i];
    if (id !== null) sink += getTask(s, id).sessionProgress.length;
  }
  return { ms: performance.now() - t0, sink, store: s };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Alternating runs of `seed()` and `store()`, each returning {ms, check}. */
function duel(name, seed, store) {
  const ms = { seed: [], store: [] };
  for (let r = 0; r < RUNS; r++) {
    const a = seed();
    const b = store();
    if (r === 0) b.check?.(a);
    ms.seed.push(a.ms);
    ms.store.push(b.ms);
    b.free?.();
  }
  return { name, seed: median(ms.seed), store: median(ms.store) };
}

// ----- memory, in a fresh process each -----

if (process.argv[2] === '--memory') {
  const text = readFileSync(process.argv[4], 'utf8');
  const gc = globalThis.gc;
  gc(); gc();
  const before = process.memoryUsage();
  let keep;
  if (process.argv[3] === 'seed') {
    const map = new Map();
    for (const t of JSON.parse(text).tasks) map.set(t.id, t);
    keep = map;
  } else {
    const s = wasmStore();
    s.loadSnapshot(text);
    s.getTasks();
    keep = s;
  }
  gc(); gc();
  const after = process.memoryUsage();
  // wasm memory is counted in `external` (not `arrayBuffers`)
  const bytes = (after.heapUsed - before.heapUsed) + (after.external - before.external);
  process.stdout.write(JSON.stringify({ bytes, size: keep.size ?? keep.getTasks().length }));
  process.exit(0);
}

// ----- main -----

const here = (p) => new URL(p, import.meta.url);
if (!existsSync(here('./stream.jsonl'))) {
  execFileSync(process.execPath, [fileURLToPath(here('./record.js'))], { stdio: 'inherit' });
}
const lines = readFileSync(here('./stream.jsonl'), 'utf8').split('\n').filter(Boolean);
const touched = lines.map((l) => {
  const p = JSON.parse(l).payload;
  return p.task?.id ?? p.taskId ?? null;
});
const taskCount = new Set(touched.filter(Boolean)).size;

const feed = { seed: (s, t) => s.apply(t), store: (s, t) => s.applyMessage(t) };
const results = [];

results.push(duel(`(a) replay ${lines.length.toLocaleString('en')} events over ${taskCount.toLocaleString('en')} tasks, getTasks() every ${BATCH}`,
  () => replayAll(lines, seedStore, feed.seed, (s) => s.getTasks()),
  () => {
    const b = replayAll(lines, wasmStore, feed.store, (s) => s.getTasks());
    return { ...b, check: (a) => { assert.equal(b.sink, a.sink); sameTasks(a.store.getTasks(), b.store.getTasks(), '(a)'); }, free: () => b.store.free() };
  }));

results.push(duel(`(b) replay ${lines.length.toLocaleString('en')} events, getTask(id) of the touched task after each`,
  () => replayOne(lines, touched, seedStore, feed.seed, (s, id) => s.getTask(id)),
  () => {
    const b = replayOne(lines, touched, wasmStore, feed.store, (s, id) => s.getTask(id));
    return { ...b, check: (a) => { assert.equal(b.sink, a.sink); sameTasks(a.store.getTasks(), b.store.getTasks(), '(b)'); }, free: () => b.store.free() };
  }));

// A 10,000-task snapshot in the server's shape, from the replay's end state:
// listed as `GET /api/snapshot` lists them, by creation time, then id.
const end = seedStore();
for (const l of lines) end.apply(l);
const model = end.getTasks();
const listOrder = (a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const snapshotTasks = Array.from({ length: SNAPSHOT_TASKS }, (_, i) => {
  const t = structuredClone(model[i % model.length]);
  t.id = `snap-${String(i).padStart(5, '0')}`;
  return t;
}).sort(listOrder);
const snapshotText = JSON.stringify({ epoch: 'bench', seq: 1, tasks: snapshotTasks, sessions: [] });
results.push(duel(`(c) snapshot of ${SNAPSHOT_TASKS.toLocaleString('en')} tasks (${(snapshotText.length / 1e6).toFixed(1)} MB): loadSnapshot + getTasks() vs JSON.parse + Map`,
  () => {
    const t0 = performance.now();
    const map = new Map();
    for (const t of JSON.parse(snapshotText).tasks) map.set(t.id, t);
    return { ms: performance.now() - t0, tasks: [...map.values()] };
  },
  () => {
    const s = wasmStore();
    const t0 = performance.now();
    s.loadSnapshot(snapshotText);
    const tasks = s.getTasks();
    const ms = performance.now() - t0;
    return { ms, check: (a) => sameTasks(a.tasks, tasks, '(c)'), free: () => s.free() };
  }));

// (f) A large board (not one of issue 12's targets): status events on the
// snapshot's 10,000 tasks, after loading it, getTasks() every 100 events.
const BIG_EVENTS = 50_000;
const bigFrames = Array.from({ length: BIG_EVENTS }, (_, i) => JSON.stringify({
  type: 'task:session_status',
  payload: {
    taskId: snapshotTasks[(i * 7919) % SNAPSHOT_TASKS].id, sessionId: `big-s${i % 3}`,
    status: ['working', 'blocked', 'completed'][i % 3], notes: `step ${i}`,
    lastUpdated: new Date(Date.UTC(2026, 10, 30) + i).toISOString(), version: 1_000_000 + i,
  },
  seq: 2 + i,
}));
const large = duel(`(f) a large board: ${BIG_EVENTS.toLocaleString('en')} status events on the ${SNAPSHOT_TASKS.toLocaleString('en')} snapshot tasks after loading it, getTasks() every ${BATCH}`,
  () => replayAll(bigFrames, () => { const s = seedStore(); s.load(snapshotText); return s; }, feed.seed, (s) => s.getTasks()),
  () => {
    const b = replayAll(bigFrames, () => { const s = wasmStore(); s.loadSnapshot(snapshotText); s.getTasks(); return s; }, feed.store, (s) => s.getTasks());
    return { ...b, check: (a) => { assert.equal(b.sink, a.sink); sameTasks(a.store.getTasks(), b.store.getTasks(), '(f)'); }, free: () => b.store.free() };
  });

const rows = results.map(({ name, seed, store }) => {
  const ratio = seed / store;
  return `| ${name} | ${store.toFixed(1)} ms vs ${seed.toFixed(1)} ms | **${ratio.toFixed(2)}×** | ≥ 1.0× |`;
});

// (d) memory
const { writeFileSync, mkdtempSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const snapFile = `${mkdtempSync(`${tmpdir()}/tasksync-bench-`)}/snapshot.json`;
writeFileSync(snapFile, snapshotText);
const memory = (who) => JSON.parse(execFileSync(process.execPath,
  ['--expose-gc', fileURLToPath(import.meta.url), '--memory', who, snapFile], { encoding: 'utf8' }));
const mem = { seed: [], store: [] };
for (let r = 0; r < 3; r++) {
  mem.seed.push(memory('seed').bytes);
  mem.store.push(memory('store').bytes);
}
const [ms, mw] = [median(mem.seed), median(mem.store)];
rows.push(`| (d) memory after ${SNAPSHOT_TASKS.toLocaleString('en')} tasks: JS heap + wasm memory | ${(mw / 1e6).toFixed(1)} MB vs ${(ms / 1e6).toFixed(1)} MB | **${(mw / ms).toFixed(2)}×** | ≤ 1.5× |`);

// (e) size
const files = ['../pkg/wasm.js', '../pkg/tasksync.js', '../engine.js', '../store.js', '../index.js'];
const gz = gzipSync(Buffer.concat(files.filter((f) => existsSync(here(f))).map((f) => readFileSync(here(f)))), { level: 9 }).length;
rows.push(`| (e) size: ${files.map((f) => f.replace('../', '')).join(' + ')}, gzip -9 | ${gz.toLocaleString('en')} B | ${(gz / 40_000).toFixed(2)}× the target | ≤ 40,000 B |`);

rows.push(`| ${large.name} | ${large.store.toFixed(1)} ms vs ${large.seed.toFixed(1)} ms | **${(large.seed / large.store).toFixed(2)}×** | — |`);

console.log(`| SDK vs the seed's plain JS (Node ${process.versions.node}, median of ${RUNS} alternating runs) | Store vs seed | ratio | target |`);
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
