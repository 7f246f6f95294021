// The live board: one Store, rendered on every change. `window.store` is the
// live store, for the devtools console: store.getTasks(), store.on('*', console.log).
import { Store, allowedTaskTransitions } from 'tasksync';

const params = new URLSearchParams(location.search);
// The server that serves this page, or `?server=URL` when the page comes from elsewhere.
const store = new Store({ url: params.get('server') || location.origin, token: params.get('token') || undefined });
window.store = store;

const COLUMNS = [['todo', 'To Do'], ['inprogress', 'In Progress'], ['completed', 'Completed'], ['cancelled', 'Cancelled']];
const ICON = { queued: '○', working: '●', needs_input: '?', blocked: '⊘', completed: '✓', failed: '✗', cancelled: '○' };
const AGGREGATE_ICON = { no_sessions: '·', needs_input: '?', blocked: '⊘', working: '●', queued: '○', all_completed: '✓', all_failed: '✗' };

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

function showError(message) {
  const p = document.getElementById('error');
  p.textContent = message;
  p.hidden = !message;
}

async function attempt(action) {
  try {
    showError('');
    await action();
  } catch (e) {
    showError(e.message ?? String(e));
  }
}

function card(task) {
  const aggregate = store.aggregateStatus(task.id);
  const targets = allowedTaskTransitions(task.status);
  const label = Object.fromEntries(COLUMNS);
  return h('article', { class: 'card', dataset: { taskId: task.id, status: task.status } },
    h('h3', {}, task.title),
    h('div', { class: 'meta' },
      h('span', { class: `priority p-${task.priority}` }, task.priority),
      h('span', { class: 'aggregate', dataset: { aggregate } }, `${AGGREGATE_ICON[aggregate]} ${aggregate.replace('_', ' ')}`)),
    task.description ? h('p', { class: 'description' }, task.description) : null,
    h('ul', { class: 'progress' }, task.sessionProgress.map((p) =>
      h('li', { dataset: { sessionId: p.sessionId, status: p.status } },
        h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[p.status]),
        h('span', { class: 'session' }, p.sessionId),
        h('span', { class: 'status' }, p.status.replace('_', ' ')),
        p.notes ? h('span', { class: 'notes' }, p.notes) : null))),
    h('div', { class: 'actions' },
      h('select', {
        'aria-label': `Move ${task.title}`,
        onchange: (e) => { const status = e.target.value; if (status) attempt(() => store.updateTask(task.id, { status })); },
      }, h('option', { value: '' }, 'Move to…'), targets.map((t) => h('option', { value: t }, label[t]))),
      h('button', { type: 'button', class: 'delete', onclick: () => attempt(() => store.deleteTask(task.id)) }, 'Delete')));
}

function render() {
  const { tasks, sessions } = store.getSnapshot();
  document.getElementById('columns').replaceChildren(...COLUMNS.map(([status, title]) => {
    const inColumn = tasks.filter((t) => t.status === status);
    return h('div', { class: 'column', dataset: { status } },
      h('h2', {}, title, h('span', { class: 'count' }, String(inColumn.length))),
      inColumn.map(card));
  }));
  document.querySelector('#sessions ul').replaceChildren(...(sessions.length ? sessions.map((s) =>
    h('li', { dataset: { sessionId: s.id, status: s.status, stale: s.stale ? 'true' : 'false' }, title: s.lastSeenAt ? `last seen ${s.lastSeenAt}` : '' },
      h('span', { class: 'lifecycle' }, s.status),
      h('span', { class: 'name' }, s.name ?? s.id),
      s.stale ? h('span', { class: 'stale' }, 'stale — not heard from') : null,
      s.error ? h('span', { class: 'notes' }, s.error) : null)) : [h('li', { class: 'empty' }, 'No sessions yet')]));
}

function renderConnection() {
  const el = document.getElementById('connection');
  const state = store.connectionState;
  let text = state;
  if (state === 'reconnecting' && store.nextRetryAt) {
    const s = Math.max(0, Math.ceil((store.nextRetryAt - Date.now()) / 1000));
    text = `reconnecting in ${s}s`;
  } else if (state === 'syncing' || state === 'connecting') {
    text = `${state}…`;
  }
  el.dataset.state = state;
  el.textContent = text;
}

let pending = false;
store.subscribe(() => {
  if (pending) return;
  pending = true;
  setTimeout(() => { pending = false; render(); }, 0);
});
store.onConnectionChange(renderConnection);
setInterval(renderConnection, 500);

document.getElementById('new-task').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.target;
  const title = form.title.value.trim();
  if (!title) return;
  attempt(async () => {
    await store.createTask({ title, priority: form.priority.value });
    form.reset();
  });
});

render();
renderConnection();
store.connect().catch((e) => showError(e.message));
