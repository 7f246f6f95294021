// A Store scoped to one project (`projectId`) against the real server:
// tasks made in projects A and B and moved between them, the client dropped
// and resumed — the store equals the server's A at every check, and at no
// moment (checked on every change) holds a task or session of another project.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from 'tasksync';
import { Server, until, plain } from './helpers.js';

let server;
before(async () => { server = await Server.start(); });
after(async () => { await server.cleanup(); });

async function serversA() {
  const snap = await server.ok('GET', '/api/snapshot?projectId=A');
  return { tasks: snap.tasks, sessions: snap.sessions };
}

test('a store scoped to A holds exactly A, through moves, drops and resyncs', async () => {
  const store = new Store({ url: server.url, projectId: 'A', autoTransition: false });
  try {
    await walk(store);
  } finally {
    store.close();
  }
});

async function walk(store) {
  const foreign = [];
  store.subscribe(() => {
    for (const t of store.getTasks()) if (t.projectId !== 'A') foreign.push(`task ${t.id} in ${t.projectId}`);
    for (const s of store.getSessions()) if (s.projectId !== 'A') foreign.push(`session ${s.id} in ${s.projectId}`);
  });
  await server.ok('POST', '/api/tasks', { id: 'pre-a', title: 'before', projectId: 'A' });
  await server.ok('POST', '/api/tasks', { id: 'pre-b', title: 'before', projectId: 'B' });
  await store.connect();
  const check = async (what) => {
    const want = await serversA();
    // (30 s: a reconnect made while the server restarts can wait out the
    // store's 10 s handshake watchdog once, as in the chaos test)
    await until(() => JSON.stringify(plain(store)) === JSON.stringify(want), what, 30_000);
    assert.deepEqual(plain(store), want, what);
    assert.deepEqual(foreign, [], what);
  };
  await check('first sync');

  // a seeded walk of creates, moves, status reports and deletes
  let x = 42;
  const rand = (n) => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % n; };
  await server.ok('POST', '/api/sessions', { id: 'sa', projectId: 'A' });
  await server.ok('POST', '/api/sessions', { id: 'sb', projectId: 'B' });
  const ids = [];
  for (let i = 0; i < 60; i++) {
    const op = rand(5);
    const project = ['A', 'B', 'C'][rand(3)];
    if (op === 0 || ids.length < 3) {
      const id = `t${i}`;
      await server.ok('POST', '/api/tasks', { id, title: `task ${i}`, projectId: project });
      ids.push(id);
    } else if (op === 1 || op === 2) {
      await server.ok('PATCH', `/api/tasks/${ids[rand(ids.length)]}`, { projectId: project });
    } else if (op === 3) {
      const id = ids[rand(ids.length)];
      const s = rand(2) ? 'sa' : 'sb';
      await server.api('POST', `/api/tasks/${id}/queue`, { sessionId: s });
      await server.api('PUT', `/api/tasks/${id}/sessions/${s}/status`, { status: rand(2) ? 'working' : 'blocked', notes: `step ${i}` });
    } else {
      const [id] = ids.splice(rand(ids.length), 1);
      await server.ok('DELETE', `/api/tasks/${id}`);
    }
    if (i % 10 === 9) await check(`after step ${i}`);
    if (i === 29) {
      // dropped: the server goes away and comes back on the same port and file
      await server.stop();
      await server.restart();
      await check('after the drop and resume');
    }
  }
  await check('at the end');
  assert.ok(store.getTasks().length > 0, 'A holds tasks at the end');
}
