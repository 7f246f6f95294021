// Reconnect, resume, resync after a new epoch, the auto-transition with many
// stores, and close(). The server is really killed and restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Store } from 'tasksync';
import { Server, until, equalsServer } from './helpers.js';

/** A store whose fetch and WebSocket are counted. */
function counted(server, options = {}) {
  const counts = { snapshots: 0, sockets: 0 };
  class CountingWebSocket extends WebSocket {
    constructor(url) {
      super(url);
      counts.sockets += 1;
    }
  }
  const store = new Store({
    url: server.url,
    WebSocket: CountingWebSocket,
    fetch: (url, init) => {
      if (String(url).endsWith('/api/snapshot')) counts.snapshots += 1;
      return fetch(url, init);
    },
    ...options,
  });
  return { store, counts };
}


test('killed and restarted on the same database: reconnects and resumes without a snapshot', async () => {
  const server = await Server.start();
  try {
    await server.ok('POST', '/api/tasks', { id: 'r-1', title: 'Before' });
    const { store, counts } = counted(server, { autoTransition: false });
    const states = [];
    store.onConnectionChange((s) => states.push(s));
    await store.connect();
    assert.equal(counts.snapshots, 1, 'the first sync of a new store is a snapshot');
    await server.kill();
    await until(() => store.connectionState === 'reconnecting', 'reconnecting');
    await server.restart();
    // changes while the store is still away
    await server.ok('PATCH', '/api/tasks/r-1', { title: 'While away' });
    await server.ok('POST', '/api/tasks', { id: 'r-2', title: 'New while away' });
    await equalsServer(store, server, 'after resume');
    assert.equal(store.getTask('r-1').title, 'While away');
    assert.equal(counts.snapshots, 1, 'resumed from its seq: no second snapshot');
    assert.ok(counts.sockets >= 2);
    assert.ok(states.includes('reconnecting') && states.at(-1) === 'live', states.join(' -> '));
    store.close();
  } finally {
    await server.cleanup();
  }
});

test('restarted on a fresh database (new epoch): resyncs fully', async () => {
  const server = await Server.start();
  try {
    await server.ok('POST', '/api/tasks', { id: 'old-1', title: 'Old world' });
    const { store, counts } = counted(server, { autoTransition: false });
    await store.connect();
    assert.ok(store.getTask('old-1'));
    await server.kill();
    rmSync(server.db, { force: true });
    rmSync(server.db + '-wal', { force: true });
    rmSync(server.db + '-shm', { force: true });
    await server.restart();
    await server.ok('POST', '/api/tasks', { id: 'new-1', title: 'New world' });
    await equalsServer(store, server, 'after a new epoch');
    assert.equal(store.getTask('old-1'), undefined);
    assert.equal(store.getTask('new-1').title, 'New world');
    assert.equal(counts.snapshots, 2, 'a new epoch means a snapshot');
    store.close();
  } finally {
    await server.cleanup();
  }
});

test('five stores, one session starts working: exactly one transition to inprogress', async () => {
  const server = await Server.start();
  try {
    const stores = [];
    for (let i = 0; i < 5; i++) {
      const s = new Store({ url: server.url });
      await s.connect();
      stores.push(s);
    }
    const watcher = new Store({ url: server.url, autoTransition: false });
    await watcher.connect();
    const moves = [];
    watcher.on('task:updated', ({ task }) => { if (task.id === 'race-1') moves.push(task.status); });
    await server.ok('POST', '/api/tasks', { id: 'race-1', title: 'Race' });
    await server.ok('POST', '/api/sessions', { id: 'race-s', taskIds: ['race-1'] });
    await server.ok('PUT', '/api/tasks/race-1/sessions/race-s/status', { status: 'working' });
    await until(() => watcher.getTask('race-1')?.status === 'inprogress', 'the transition');
    // let any late duplicate attempts land before counting
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(moves, ['inprogress']);
    const { events } = await server.ok('GET', '/api/events?since=0');
    const updates = events.filter((e) => e.type === 'task:updated' && e.payload.task.id === 'race-1');
    assert.equal(updates.length, 1);
    assert.equal((await server.ok('GET', '/api/tasks/race-1')).status, 'inprogress');
    for (const s of [...stores, watcher]) await equalsServer(s, server, 'every store agrees');
    for (const s of [...stores, watcher]) s.close();
  } finally {
    await server.cleanup();
  }
});

test('a working status set while no store was connected is found on resync and transitioned', async () => {
  const server = await Server.start();
  try {
    // while nobody is connected
    await server.ok('POST', '/api/tasks', { id: 'late-1', title: 'Set while away' });
    await server.ok('POST', '/api/sessions', { id: 'late-s', taskIds: ['late-1'] });
    await server.ok('PUT', '/api/tasks/late-1/sessions/late-s/status', { status: 'working' });
    const store = new Store({ url: server.url });
    await store.connect();
    await until(() => store.getTask('late-1').status === 'inprogress', 'transition after snapshot');
    // and on resume: the store is away while another task gets a working session
    await server.kill();
    await server.restart();
    await server.ok('POST', '/api/tasks', { id: 'late-2', title: 'Set during the outage' });
    await server.ok('PUT', '/api/tasks/late-2/sessions/late-s/status', { status: 'working' });
    await until(() => store.getTask('late-2')?.status === 'inprogress', 'transition after resume', 20_000);
    store.close();
  } finally {
    await server.cleanup();
  }
});

test('close() stops all reconnecting', async () => {
  const server = await Server.start();
  try {
    const { store, counts } = counted(server);
    await store.connect();
    await server.kill();
    await until(() => store.connectionState === 'reconnecting', 'reconnecting');
    store.close();
    assert.equal(store.connectionState, 'closed');
    const sockets = counts.sockets;
    await server.restart();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(counts.sockets, sockets, 'no new socket after close()');
    assert.equal(store.connectionState, 'closed');
    // and a pending connect() rejects when closed
    const again = counted(server);
    const pending = again.store.connect();
    again.store.close();
    await assert.rejects(pending, (e) => e.code === 'closed');
  } finally {
    await server.cleanup();
  }
});
