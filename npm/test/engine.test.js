// The engine's promises against the real server: the seed's event-based
// auto-transition (working, then blocked 20 ms later, five stores: one move),
// and the offline outbox (a write made while the server is down lands once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from 'tasksync';
import { Server, until, equalsServer } from './helpers.js';

test('working then blocked 20 ms later, five stores open: the task moves exactly once', async () => {
  const server = await Server.start();
  try {
    const stores = [];
    for (let i = 0; i < 5; i++) {
      const s = new Store({ url: server.url });
      await s.connect();
      stores.push(s);
    }
    await server.ok('POST', '/api/tasks', { id: 'brief', title: 'Brief' });
    await server.ok('POST', '/api/sessions', { id: 'brief-s', taskIds: ['brief'] });
    await until(() => stores.every((s) => s.getTask('brief')?.sessionIds.length === 1), 'queued everywhere');
    await server.ok('PUT', '/api/tasks/brief/sessions/brief-s/status', { status: 'working' });
    await new Promise((r) => setTimeout(r, 20));
    await server.ok('PUT', '/api/tasks/brief/sessions/brief-s/status', { status: 'blocked', notes: 'Need API key' });
    await until(async () => (await server.ok('GET', '/api/tasks/brief')).status === 'inprogress', 'the move', 5_000);
    // let every store's jitter and any retry run out before counting
    await new Promise((r) => setTimeout(r, 1_500));
    const { events } = await server.ok('GET', '/api/events?since=0');
    const updates = events.filter((e) => e.type === 'task:updated' && e.payload.task.id === 'brief');
    assert.equal(updates.length, 1, JSON.stringify(updates));
    assert.equal(updates[0].payload.task.status, 'inprogress');
    for (const s of stores) {
      await equalsServer(s, server, 'every store equals the server');
      s.close();
    }
  } finally {
    await server.cleanup();
  }
});

test('a write made while the server is stopped is shown at once and lands exactly once after it restarts', async () => {
  const server = await Server.start();
  try {
    await server.ok('POST', '/api/tasks', { id: 'off-1', title: 'Offline' });
    const store = new Store({ url: server.url, autoTransition: false });
    await store.connect();
    await server.stop();
    await until(() => store.connectionState === 'reconnecting', 'reconnecting');
    const moved = store.updateTask('off-1', { status: 'completed' });
    const created = store.createTask({ title: 'made offline' });
    assert.equal(store.getTask('off-1').status, 'completed', 'shown at once');
    assert.equal(store.pendingWrites, 2);
    const offlineTitles = store.getTasks().map((t) => t.title);
    assert.ok(offlineTitles.includes('made offline'), JSON.stringify(offlineTitles));
    await server.restart();
    const [t, c] = await Promise.all([moved, created]);
    assert.equal(t.status, 'completed');
    assert.equal(c.title, 'made offline');
    await until(() => store.pendingWrites === 0 && store.connectionState === 'live', 'outbox drained');
    const { events } = await server.ok('GET', '/api/events?since=0');
    assert.equal(events.filter((e) => e.type === 'task:updated').length, 1, 'moved once');
    assert.equal(events.filter((e) => e.type === 'task:created').length, 2, 'created once');
    await equalsServer(store, server, 'the store equals the server');
    store.close();
  } finally {
    await server.cleanup();
  }
});

test('an outbox write refused when it finally goes out is rolled back and reported as write:failed', async () => {
  const server = await Server.start();
  try {
    await server.ok('POST', '/api/tasks', { id: 'rf-1', title: 'Refused later' });
    const store = new Store({ url: server.url, autoTransition: false });
    const failures = [];
    store.on('write:failed', (e) => failures.push(e));
    await store.connect();
    await server.stop();
    await until(() => store.connectionState === 'reconnecting', 'reconnecting');
    // queued for a session the server does not know: refused whenever it goes out
    const write = store.queueTask('rf-1', 'ghost');
    assert.deepEqual(store.getTask('rf-1').sessionIds, ['ghost'], 'shown at once');
    await server.restart();
    await assert.rejects(write, (e) => e.status === 404 && e.code === 'not_found');
    await until(() => failures.length === 1, 'write:failed');
    assert.equal(failures[0].code, 'not_found');
    assert.equal(failures[0].write.op, 'queueTask');
    assert.deepEqual(store.getTask('rf-1').sessionIds, [], 'rolled back to the truth');
    assert.equal(store.pendingWrites, 0);
    store.close();
  } finally {
    await server.cleanup();
  }
});

test('bring your own transport: applyMessage and loadSnapshot feed the same machine', async () => {
  const store = new Store({ url: 'http://127.0.0.1:1', autoTransition: false });
  const task = { id: 'b1', title: 'B', status: 'todo', priority: 'low', sessionIds: [], sessionProgress: [], createdAt: 'c', updatedAt: 'u', version: 1 };
  store.applyMessage(JSON.stringify({ type: 'sync:hello', payload: { epoch: 'e', seq: 1, resumed: false } }));
  store.applyMessage(JSON.stringify({ type: 'task:session_status', payload: { taskId: 'b1', sessionId: 's', status: 'queued', lastUpdated: 'l', version: 2 }, seq: 2 }));
  store.loadSnapshot(JSON.stringify({ epoch: 'e', seq: 1, tasks: [task], sessions: [] }));
  assert.equal(store.seq, 2);
  assert.equal(store.getTask('b1').sessionProgress[0].status, 'queued');
  assert.equal(store.getTask('b1').version, 2);
});

test('options.outbox keeps unsent writes across a "reload": a new store sends them once', async () => {
  const server = await Server.start();
  try {
    await server.ok('POST', '/api/tasks', { id: 'kept-1', title: 'Kept' });
    let saved = null;
    const storage = { load: async () => saved, save: (text) => { saved = text; } };
    const first = new Store({ url: server.url, autoTransition: false, outbox: storage });
    await first.connect();
    await server.stop();
    await until(() => first.connectionState === 'reconnecting', 'reconnecting');
    first.updateTask('kept-1', { title: 'renamed offline' }).catch(() => {});
    assert.match(saved, /renamed offline/);
    first.close(); // the page goes away with the write unsent
    await server.restart();
    const second = new Store({ url: server.url, autoTransition: false, outbox: storage });
    await second.connect();
    await until(async () => (await server.ok('GET', '/api/tasks/kept-1')).title === 'renamed offline', 'the kept write landed');
    await until(() => second.pendingWrites === 0, 'outbox drained');
    assert.equal(JSON.parse(saved).length, 0);
    const { events } = await server.ok('GET', '/api/events?since=0');
    assert.equal(events.filter((e) => e.type === 'task:updated').length, 1);
    second.close();
  } finally {
    await server.cleanup();
  }
});
