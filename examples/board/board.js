// The live board: one Store, rendered on every change. `window.store` is the
// live store, for the devtools console: store.getTasks(), store.on('*', console.log).
import { Store, allowedTaskTransitions } from 'tasksync';
import { needsYou, failures, Notifier, waited } from './attention.js';

const params = new URLSearchParams(location.search);
// The server that serves this page, or `?server=URL` when the page comes from elsewhere.
const base = params.get('server') || location.origin;
const token = params.get('token') || undefined;
// What this link may do (GET /api/whoami): a read-only link shows no write
// controls; one limited to projects follows the first (or `?project=P`).
const whoami = await fetch(`${base}/api/whoami`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  .then((r) => (r.ok ? r.json() : { role: 'admin', projects: [] }))
  .catch(() => ({ role: 'admin', projects: [] }));
const projectId = params.get('project') || whoami.projects[0] || undefined;
document.body.dataset.role = whoami.role;
if (projectId) {
  document.body.dataset.project = projectId;
  const label = document.createElement('span');
  label.className = 'project';
  label.textContent = ` · ${projectId}`;
  document.querySelector('h1').append(label);
}
const store = new Store({ url: base, token, projectId });
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
      h('button', { type: 'button', class: 'history', onclick: () => openDetail(task.id) }, 'History'),
      h('button', { type: 'button', class: 'delete', onclick: () => attempt(() => store.deleteTask(task.id)) }, 'Delete')));
}

const notifier = new Notifier();
const TITLE = document.title;

// A task's detail: what it is now, and its history (GET /api/tasks/:id/events).
let detailTask = null;
let detailVersion = null;

function timelineEntry(e) {
  const p = e.payload;
  const at = p.lastUpdated ?? p.task?.updatedAt ?? '';
  const when = at ? new Date(at).toLocaleTimeString() : '';
  let what;
  switch (e.type) {
    case 'task:created': what = `created: ${p.task.title}`; break;
    case 'task:updated': what = `updated: ${p.task.status} — ${p.task.title}`; break;
    case 'task:deleted': what = 'deleted'; break;
    case 'task:session_status': what = `${p.sessionId}: ${p.status.replace('_', ' ')}`; break;
    default: what = e.type;
  }
  return h('li', { dataset: { seq: String(e.seq), type: e.type, status: p.status ?? p.task?.status ?? '' } },
    h('time', { datetime: at }, when), h('span', { class: 'what' }, what),
    p.notes ? h('span', { class: 'notes' }, p.notes) : null);
}

async function loadHistory(taskId) {
  const events = [];
  let since = 0;
  for (;;) {
    const res = await fetch(`${base}/api/tasks/${encodeURIComponent(taskId)}/events?since=${since}&limit=1000`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const page = await res.json();
    if (!res.ok) throw new Error(page.error?.message ?? `HTTP ${res.status}`);
    events.push(...page.events);
    if (!page.more || !page.events.length) return { events, oldest: page.oldestRetained };
    since = page.events[page.events.length - 1].seq;
  }
}

async function renderDetail() {
  const dialog = document.getElementById('detail');
  const task = store.getTask(detailTask);
  dialog.querySelector('h2').textContent = task?.title ?? detailTask;
  dialog.querySelector('.state').textContent = task ? `${task.status} · ${task.priority} · version ${task.version}` : 'deleted';
  detailVersion = task?.version ?? null;
  try {
    const { events, oldest } = await loadHistory(detailTask);
    const complete = events[0]?.type === 'task:created' || oldest <= 1;
    dialog.querySelector('ol').replaceChildren(
      ...(complete ? [] : [h('li', { class: 'gone' }, 'older events are no longer kept')]),
      ...events.map(timelineEntry));
  } catch (e) {
    dialog.querySelector('ol').replaceChildren(h('li', { class: 'gone' }, `history unavailable: ${e.message}`));
  }
}

function openDetail(taskId) {
  detailTask = taskId;
  const dialog = document.getElementById('detail');
  if (!dialog.open) dialog.showModal();
  renderDetail();
}

/** Brings a task into view and opens its detail. */
function openTask(taskId) {
  if (!taskId) return;
  const el = document.querySelector(`article.card[data-task-id="${CSS.escape(taskId)}"]`);
  document.querySelectorAll('article.card[data-focused]').forEach((c) => delete c.dataset.focused);
  if (el) {
    el.dataset.focused = 'true';
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
  openDetail(taskId);
}

function renderAttention(tasks, sessions) {
  const entries = needsYou(tasks, sessions);
  const section = document.getElementById('needs-you');
  section.dataset.count = String(entries.length);
  section.querySelector('.count').textContent = String(entries.length);
  section.querySelector('ul').replaceChildren(...(entries.length ? entries.map((e) =>
    h('li', { dataset: { key: e.key, status: e.status, sessionId: e.sessionId, taskId: e.taskId ?? '' } },
      h('button', { type: 'button', class: 'open', onclick: () => openTask(e.taskId) },
        h('span', { class: 'icon', 'aria-hidden': 'true' }, e.status === 'stale' ? '…' : ICON[e.status]),
        h('span', { class: 'session' }, e.session),
        h('span', { class: 'status' }, e.status.replace('_', ' ')),
        e.title ? h('span', { class: 'title' }, e.title) : null,
        h('span', { class: 'waited', title: e.since }, `waiting ${waited(e.since)}`)),
      e.notes ? h('span', { class: 'notes' }, e.notes) : null)) : [h('li', { class: 'empty' }, 'Nobody is waiting for you')]));
  document.title = entries.length ? `(${entries.length}) tasksync` : TITLE;
  // Notifications: only for what appears while the page is hidden, once each.
  const news = notifier.seen([...entries, ...failures(tasks, sessions)], document.visibilityState === 'hidden');
  if (news.length && 'Notification' in window && Notification.permission === 'granted') {
    for (const e of news) {
      const n = new Notification(`${e.session}: ${e.status.replace('_', ' ')}`, {
        body: [e.title, e.notes].filter(Boolean).join(' — '),
        tag: e.key,
      });
      n.onclick = () => { window.focus(); openTask(e.taskId); n.close(); };
    }
  }
}

function renderNotifyButton() {
  const button = document.getElementById('notify');
  const state = 'Notification' in window ? Notification.permission : 'unsupported';
  button.dataset.permission = state;
  button.hidden = state !== 'default';
}

function render() {
  const { tasks, sessions } = store.getSnapshot();
  renderAttention(tasks, sessions);
  const dialog = document.getElementById('detail');
  if (dialog.open && detailTask && (store.getTask(detailTask)?.version ?? null) !== detailVersion) renderDetail();
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

document.querySelector('#detail .close').addEventListener('click', () => document.getElementById('detail').close());
document.getElementById('notify').addEventListener('click', () => {
  // Asked only on a click, never on load.
  Notification.requestPermission().then(renderNotifyButton, renderNotifyButton);
});
document.addEventListener('visibilitychange', render);
setInterval(() => { if (document.visibilityState === 'visible') render(); }, 15_000); // "waiting 3m" moves on

render();
renderNotifyButton();
renderConnection();
store.connect().catch((e) => showError(e.message));
