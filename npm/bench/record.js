// Records a stream of events from the real server into bench/stream.jsonl:
// 1,000 tasks, a session per task, then status changes and edits until
// there are 100,000 events. Usage: node bench/record.js [events] [tasks]
import { writeFileSync } from 'node:fs';
import { Server } from '../test/helpers.js';

const EVENTS = Number(process.argv[2] ?? 100_000);
const TASKS = Number(process.argv[3] ?? 1_000);
const out = new URL('./stream.jsonl', import.meta.url);

const server = new Server();
server.extraArgs = ['--retain', String(EVENTS + 10)];
await server.restart();
try {
  const pool = async (n, fn, concurrency = 32) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }));
  };
  await pool(TASKS, (i) => server.ok('POST', '/api/tasks', { id: `task-${i}`, title: `Task ${i}`, priority: 'medium' }));
  await pool(TASKS, (i) => server.ok('POST', '/api/sessions', { id: `agent-${i}`, taskIds: [`task-${i}`] }));
  // Each task's agent cycles working -> blocked/needs_input -> working...; every few steps the task is edited.
  const cycle = [
    { status: 'working' },
    { status: 'blocked', notes: 'Need API key' },
    { status: 'working', notes: 'Got it, continuing' },
    { status: 'needs_input', notes: 'Which database should I use?' },
  ];
  let head = (await server.ok('GET', '/api/snapshot')).seq;
  let round = 0;
  const position = new Array(TASKS).fill(0);
  while (head < EVENTS) {
    await pool(TASKS, async (i) => {
      if (round % 3 === 2 && i % 2 === 0) {
        await server.ok('PATCH', `/api/tasks/task-${i}`, { title: `Task ${i} (rev ${round})`, description: `Round ${round} notes for task ${i}` });
      } else {
        const step = cycle[position[i]++ % cycle.length];
        await server.ok('PUT', `/api/tasks/task-${i}/sessions/agent-${i}/status`, step);
      }
    });
    round += 1;
    head = (await server.ok('GET', '/api/snapshot')).seq;
  }
  const lines = [];
  for (let since = 0; lines.length < EVENTS;) {
    const res = await fetch(`${server.url}/api/events?since=${since}&limit=10000`);
    const text = await res.text();
    const { events } = JSON.parse(text);
    if (events.length === 0) break;
    for (const e of events) {
      if (lines.length < EVENTS) lines.push(JSON.stringify(e));
    }
    since = events.at(-1).seq;
  }
  writeFileSync(out, lines.join('\n') + '\n');
  console.error(`recorded ${lines.length} events over ${TASKS} tasks into ${out.pathname}`);
} finally {
  await server.cleanup();
}
