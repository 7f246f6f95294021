// Replays one recorded stream (bench/stream.jsonl, raw JSON strings) into
// (a) the seed's client handling written as plain JavaScript, exactly as the
// seed shows, with JSON.parse, and (b) the wasm Store. After every 100 events
// each reads the tasks those events changed back as JavaScript objects.
// Prints events/s of both and the ratio; runs alternate, best of N each.
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Store } from 'tasksync';

const streamFile = new URL('./stream.jsonl', import.meta.url);
if (!existsSync(streamFile)) {
  execFileSync(process.execPath, [new URL('./record.js', import.meta.url).pathname], { stdio: 'inherit' });
}
const lines = readFileSync(streamFile, 'utf8').split('\n').filter(Boolean);
// Which task each event touches, worked out before timing, for both contenders alike.
const touched = lines.map((l) => {
  const p = JSON.parse(l).payload;
  return p.task?.id ?? p.taskId ?? null;
});
const BATCH = 100;
const RUNS = Number(process.env.RUNS ?? 5);

/** (a) The seed's store, verbatim in spirit: a Map and the seed's handlers. */
function seedJs() {
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
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    const { type, payload } = JSON.parse(lines[i]);
    on[type]?.(payload);
    if ((i + 1) % BATCH === 0) {
      for (let j = i + 1 - BATCH; j <= i; j++) {
        const id = touched[j];
        if (id !== null) sink += tasks.get(id).sessionProgress.length;
      }
    }
  }
  return { ms: performance.now() - t0, sink, tasks: tasks.size };
}

/** (b) The wasm Store, fed the same strings. */
function wasmStore() {
  const store = new Store({ url: 'http://127.0.0.1:1', autoTransition: false });
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i++) {
    store.applyMessage(lines[i]);
    if ((i + 1) % BATCH === 0) {
      for (let j = i + 1 - BATCH; j <= i; j++) {
        const id = touched[j];
        if (id !== null) sink += store.getTask(id).sessionProgress.length;
      }
    }
  }
  const ms = performance.now() - t0;
  const tasks = store.getTasks().length;
  store.free();
  return { ms, sink, tasks };
}

const best = { js: Infinity, wasm: Infinity };
for (let r = 0; r < RUNS; r++) {
  const a = seedJs();
  const b = wasmStore();
  if (a.tasks !== b.tasks || a.sink !== b.sink) throw new Error(`contenders disagree: ${JSON.stringify({ a, b })}`);
  best.js = Math.min(best.js, a.ms);
  best.wasm = Math.min(best.wasm, b.ms);
  console.error(`run ${r + 1}: seed JS ${a.ms.toFixed(0)} ms, wasm Store ${b.ms.toFixed(0)} ms`);
}
const rate = (ms) => (lines.length / ms) * 1000;
const pkg = new URL('../pkg/', import.meta.url);
const gz = gzipSync(Buffer.concat([readFileSync(new URL('tasksync_bg.wasm', pkg)), readFileSync(new URL('tasksync.js', pkg))]), { level: 9 }).length;
const ratio = rate(best.wasm) / rate(best.js);
console.log(`| SDK replay: ${lines.length.toLocaleString('en')} recorded events over ${touched.filter(Boolean).length ? new Set(touched.filter(Boolean)).size : 0} tasks, changed tasks read back every ${BATCH} | wasm Store ${Math.round(rate(best.wasm)).toLocaleString('en')} events/s vs seed JS ${Math.round(rate(best.js)).toLocaleString('en')} events/s = ${ratio.toFixed(2)}× | ≥ 1.0× | best of ${RUNS} alternating runs, Node ${process.versions.node} |`);
console.log(`| SDK size: .wasm + JS glue, gzip -9 | ${(gz / 1024).toFixed(1)} KiB | ≤ 60 KB | ${readFileSync(new URL('tasksync_bg.wasm', pkg)).length.toLocaleString('en')} bytes of wasm before gzip |`);
