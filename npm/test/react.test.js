// tasksync/react against the real server: React 19 in jsdom renders a list,
// an event re-renders only the component whose task changed, and the same
// tree renders on the server without opening a WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { createElement as h, memo, act } from 'react';
import { renderToString } from 'react-dom/server';
import { Store } from 'tasksync';
import { TasksyncProvider, useTasks, useTask, useConnectionState } from 'tasksync/react';
import { Server, until } from './helpers.js';

let server;
before(async () => { server = await Server.start(); });
after(async () => { await server.cleanup(); });

const renders = new Map();
const count = (key) => renders.set(key, (renders.get(key) ?? 0) + 1);

const Row = memo(function Row({ id }) {
  const task = useTask(id);
  count(id);
  return h('li', { 'data-id': id }, `${task?.title}: ${task?.status}`);
});

function Board() {
  const tasks = useTasks();
  const state = useConnectionState();
  count('board');
  return h('div', null, h('p', { id: 'state' }, state), h('ul', null, tasks.map((t) => h(Row, { key: t.id, id: t.id }))));
}

test('hooks: render, an event re-renders only the affected row, connection state shows', async () => {
  const dom = new JSDOM('<!doctype html><div id="root"></div>');
  globalThis.window = dom.window;
  globalThis.document = dom.window.document;
  if (!globalThis.navigator) globalThis.navigator = dom.window.navigator; // (Node 20 has none)
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  const { createRoot } = await import('react-dom/client');
  await server.ok('POST', '/api/tasks', { id: 'r-1', title: 'One' });
  await server.ok('POST', '/api/tasks', { id: 'r-2', title: 'Two' });
  const store = new Store({ url: server.url, autoTransition: false, outbox: null });
  const root = createRoot(document.getElementById('root'));
  await act(async () => { root.render(h(TasksyncProvider, { store }, h(Board))); });
  await act(async () => { await store.connect(); });
  const text = () => document.getElementById('root').textContent;
  assert.match(text(), /live/);
  assert.match(text(), /One: todo/);
  assert.match(text(), /Two: todo/);
  const before = { one: renders.get('r-1'), two: renders.get('r-2') };
  await act(async () => {
    await server.ok('PATCH', '/api/tasks/r-2', { status: 'inprogress' });
    await until(() => store.getTask('r-2')?.status === 'inprogress', 'event applied');
  });
  assert.match(text(), /Two: inprogress/);
  assert.equal(renders.get('r-1'), before.one, 'the unchanged row did not re-render');
  assert.equal(renders.get('r-2'), before.two + 1, 'the changed row re-rendered once');
  await act(async () => { root.unmount(); });
  store.close();
  delete globalThis.window;
  delete globalThis.document;
});

test('hooks on the server: renders what the store holds, opens no socket', async () => {
  let sockets = 0;
  class NoSocket { constructor() { sockets += 1; throw new Error('no socket on the server'); } }
  const store = new Store({ url: server.url, WebSocket: NoSocket, outbox: null });
  const empty = renderToString(h(TasksyncProvider, { store }, h(Board)));
  assert.match(empty, /closed/);
  assert.doesNotMatch(empty, /<li/);
  // a snapshot fetched by the server itself, rendered into the page
  const snapshot = await (await fetch(`${server.url}/api/snapshot`)).text();
  store.loadSnapshot(snapshot);
  const html = renderToString(h(TasksyncProvider, { store }, h(Board)));
  assert.match(html, /One: todo/);
  assert.equal(sockets, 0);
  store.free();
});
