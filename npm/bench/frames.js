// Where a replay's time goes, by frame type: the Store (applyMessage, then
// getTask of the touched task) against the seed's handling (JSON.parse, its
// handler, the same read), each frame timed alone with performance.now()
// (about 0.1 µs of timer in every figure), averaged over the last of RUNS
// replays. Usage: node bench/frames.js   (after `npm run bench` recorded
// bench/stream.jsonl)
import { readFileSync } from 'node:fs';
import { Store } from 'tasksync';

const RUNS = Number(process.env.RUNS ?? 4);
const lines = readFileSync(new URL('./stream.jsonl', import.meta.url), 'utf8').split('\n').filter(Boolean);
const frames = lines.map((l) => {
  const { type, payload } = JSON.parse(l);
  return { text: l, type, id: payload.task?.id ?? payload.taskId ?? null };
});

function seedApply(tasks, text) {
  const { type, payload: p } = JSON.parse(text);
  if (type === 'task:created' || type === 'task:updated') tasks.set(p.task.id, p.task);
  else if (type === 'task:deleted') tasks.delete(p.taskId);
  else if (type === 'task:session_status') {
    const task = tasks.get(p.taskId);
    if (!task) return;
    const e = task.sessionProgress.find((x) => x.sessionId === p.sessionId);
    if (e) Object.assign(e, { status: p.status, notes: p.notes, lastUpdated: p.lastUpdated });
    else task.sessionProgress.push({ sessionId: p.sessionId, status: p.status, notes: p.notes, lastUpdated: p.lastUpdated });
  }
}

let per;
for (let r = 0; r < RUNS; r++) {
  per = new Map();
  const store = new Store({ url: 'http://127.0.0.1:1', autoTransition: false, outbox: null });
  const seed = new Map();
  for (const { text, type, id } of frames) {
    let t0 = performance.now();
    store.applyMessage(text);
    if (id !== null) store.getTask(id);
    const s = performance.now() - t0;
    t0 = performance.now();
    seedApply(seed, text);
    if (id !== null) seed.get(id);
    const b = performance.now() - t0;
    const row = per.get(type) ?? { n: 0, store: 0, seed: 0 };
    row.n++;
    row.store += s;
    row.seed += b;
    per.set(type, row);
  }
  store.free();
}
console.log(`| frame (share of the stream) | the Store, µs | the seed, µs | Store ÷ seed |`);
console.log('| --- | --- | --- | --- |');
for (const [type, { n, store, seed }] of [...per].sort((a, b) => b[1].n - a[1].n)) {
  const [a, b] = [(store * 1000) / n, (seed * 1000) / n];
  console.log(`| \`${type}\` (${((100 * n) / frames.length).toFixed(0)}%) | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)} |`);
}
