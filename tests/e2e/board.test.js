// The live board in real headless Chromium (Debian's, driven by
// playwright-core) against the real server binary with --static.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Server, serverBinary, CHROMIUM } from '../../npm/test/helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const boardDir = process.env.BOARD_DIR ?? join(root, 'target', 'board');
const run = promisify(execFile);

let server;
let browser;
const consoleProblems = [];

before(async () => {
  server = new Server();
  server.extraArgs = ['--static', boardDir];
  await server.restart();
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

/** A board page; console errors and page errors are collected. */
async function openBoard() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleProblems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleProblems.push(`pageerror: ${e.message}`));
  await page.goto(server.url + '/');
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
  return page;
}

function cli(args, session) {
  const env = { ...process.env, TASKSYNC_URL: server.url, NO_COLOR: '1' };
  if (session) env.TASKSYNC_SESSION_ID = session;
  return run(serverBinary, args, { env });
}

/** `tasksync hook claude` on a recorded payload (tests/fixtures/claude/NAME.json), as Claude Code runs it. */
function claudeHook(name) {
  const payload = readFileSync(join(root, 'tests', 'fixtures', 'claude', `${name}.json`));
  return new Promise((resolve, reject) => {
    const child = spawn(serverBinary, ['hook', 'claude'], {
      env: { ...process.env, TASKSYNC_URL: server.url, TASKSYNC_HOOK_LOG: '/dev/null' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`hook exited ${code}`))));
    child.stdin.end(payload);
  });
}

const card = (page, id) => page.locator(`article.card[data-task-id="${id}"]`);
const column = (page, status) => page.locator(`.column[data-status="${status}"]`);

test('loads without console errors and shows tasks created through the REST API', async () => {
  await server.ok('POST', '/api/tasks', { id: 'e2e-1', title: 'Fix auth bug', priority: 'high' });
  const page = await openBoard();
  await card(page, 'e2e-1').waitFor();
  assert.equal(await column(page, 'todo').locator('article.card[data-task-id="e2e-1"] h3').textContent(), 'Fix auth bug');
  // created while the page is open
  await server.ok('POST', '/api/tasks', { id: 'e2e-2', title: 'Write the release notes' });
  await card(page, 'e2e-2').waitFor({ timeout: 2000 });
  assert.equal(await page.evaluate(() => window.store.getTasks().length), 2, 'window.store is the live store');
  assert.deepEqual(consoleProblems, []);
  await page.close();
});

test('the CLI reports blocked with notes: the card shows ⊘ and the note within 2 s; working moves it to In Progress', async () => {
  const page = await openBoard();
  await server.ok('POST', '/api/tasks', { id: 'e2e-3', title: 'Migrate CI' });
  await cli(['session', 'spawn', '--id', 'agent-a', '--name', 'agent A', '--task', 'e2e-3']);
  await card(page, 'e2e-3').waitFor({ timeout: 2000 });
  assert.equal(await column(page, 'todo').locator('[data-task-id="e2e-3"]').count(), 1);
  await cli(['task', 'update', 'e2e-3', '--status', 'working'], 'agent-a');
  await column(page, 'inprogress').locator('[data-task-id="e2e-3"]').waitFor({ timeout: 2000 });
  await cli(['task', 'update', 'e2e-3', '--status', 'blocked', '--notes', 'Need API key'], 'agent-a');
  const entry = card(page, 'e2e-3').locator('li[data-session-id="agent-a"][data-status="blocked"]');
  await entry.waitFor({ timeout: 2000 });
  assert.equal(await entry.locator('.icon').textContent(), '⊘');
  assert.equal(await entry.locator('.notes').textContent(), 'Need API key');
  assert.match(await card(page, 'e2e-3').locator('.aggregate').textContent(), /⊘ blocked/);
  await page.locator('#sessions li[data-session-id="agent-a"]').waitFor();
  // The CLI made the move; the page's store, deciding a moment later, saw it and sent nothing.
  const { events } = await server.ok('GET', '/api/events?since=0');
  assert.equal(events.filter((e) => e.type === 'task:updated' && e.payload.task.id === 'e2e-3').length, 1);
  assert.deepEqual(consoleProblems, []);
  await page.close();
});

test('two pages: a status change in one shows in the other; a refused one shows the server message', async () => {
  await server.ok('POST', '/api/tasks', { id: 'e2e-4', title: 'Two pages' });
  const a = await openBoard();
  const b = await openBoard();
  await card(a, 'e2e-4').waitFor();
  // only allowed targets are offered
  const offered = await card(a, 'e2e-4').locator('select option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  assert.deepEqual(offered, ['inprogress', 'completed', 'cancelled']);
  await card(a, 'e2e-4').locator('select').selectOption('completed');
  await column(b, 'completed').locator('[data-task-id="e2e-4"]').waitFor({ timeout: 2000 });
  // page a settled too (its write answered, the card re-rendered), so the
  // option injected below is not swept away by a render
  await column(a, 'completed').locator('[data-task-id="e2e-4"]').waitFor({ timeout: 2000 });
  await a.waitForFunction(() => window.store.pendingWrites === 0, null, { timeout: 2000 });
  await a.waitForTimeout(100);
  // a stale choice (the page offered it, the server no longer allows it) is refused with the server's message
  await card(a, 'e2e-4').locator('select').evaluate((s) => { s.add(new Option('To Do', 'todo')); });
  await card(a, 'e2e-4').locator('select').selectOption('todo');
  await a.locator('#error:not([hidden])').waitFor({ timeout: 2000 });
  assert.match(await a.locator('#error').textContent(), /cannot go from `completed` to `todo`/);
  assert.equal(await b.evaluate(() => window.store.getTask('e2e-4').status), 'completed');
  // Chromium logs the refused request itself; that line is this test's doing.
  assert.deepEqual(consoleProblems.splice(0), ['error: Failed to load resource: the server responded with a status of 409 (Conflict)']);
  await a.close();
  await b.close();
});

test('server killed and restarted: the page reconnects, shows what changed meanwhile, and the indicator goes reconnecting -> live', async () => {
  const page = await openBoard();
  await server.ok('POST', '/api/tasks', { id: 'e2e-5', title: 'Survives restarts' });
  await card(page, 'e2e-5').waitFor();
  await page.evaluate(() => {
    window.indicatorStates = [];
    const el = document.getElementById('connection');
    new MutationObserver(() => {
      const s = el.dataset.state;
      if (window.indicatorStates.at(-1) !== s) window.indicatorStates.push(s);
    }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  await server.kill();
  await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5000 });
  assert.match(await page.locator('#connection').textContent(), /reconnecting in \d+s/);
  await server.restart();
  // changes made before the page is back
  await server.ok('PATCH', '/api/tasks/e2e-5', { title: 'Survived a restart', status: 'inprogress' });
  await server.ok('POST', '/api/tasks', { id: 'e2e-6', title: 'Made during the outage' });
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 40_000 });
  await column(page, 'inprogress').locator('[data-task-id="e2e-5"]').waitFor({ timeout: 2000 });
  assert.equal(await card(page, 'e2e-5').locator('h3').textContent(), 'Survived a restart');
  await card(page, 'e2e-6').waitFor({ timeout: 2000 });
  const states = await page.evaluate(() => window.indicatorStates);
  assert.equal(states[0], 'reconnecting', states.join(' -> '));
  assert.equal(states.at(-1), 'live', states.join(' -> '));
  // the WebSocket drop itself is logged by Chromium; nothing else may be
  const unexpected = consoleProblems.filter((p) => !/WebSocket connection to .* failed/.test(p));
  assert.deepEqual(unexpected, []);
  consoleProblems.length = 0;
  await page.close();
});

test('screenshot of the board for the docs', async () => {
  await cli(['session', 'spawn', '--id', 'agent-b', '--name', 'agent B', '--task', 'e2e-1']);
  await cli(['session', 'activate', 'agent-a']);
  await cli(['session', 'activate', 'agent-b']);
  await cli(['task', 'update', 'e2e-1', '--status', 'working', '--notes', 'Reproduced; writing the fix'], 'agent-b');
  const page = await openBoard();
  await column(page, 'inprogress').locator('[data-task-id="e2e-1"]').waitFor({ timeout: 2000 });
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(root, 'docs', 'board.png') });
  await page.close();
});

/** The board's files from a plain static server, so the page reloads while tasksync is down. */
async function serveBoard() {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
  const http = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = join(boardDir, path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${http.address().port}`, close: () => http.close() };
}

test('a write made offline survives a page reload and lands exactly once', async () => {
  const statics = await serveBoard();
  // the page's origin is not the server's: allow it (SPEC's default refuses)
  await server.stop();
  server.extraArgs = ['--static', boardDir, '--allow-origin', statics.url];
  await server.restart();
  const page = await browser.newPage();
  const address = `${statics.url}/?server=${encodeURIComponent(server.url)}`;
  try {
    await page.goto(address);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    await server.kill();
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5000 });
    await page.evaluate(() => { window.store.createTask({ id: 'offline-1', title: 'Written offline' }).catch(() => {}); });
    await card(page, 'offline-1').waitFor({ timeout: 2000 });
    assert.equal(await page.evaluate(() => window.store.pendingWrites), 1);
    // kept in IndexedDB, then the page is reloaded while the server is still down
    await page.waitForFunction(() => new Promise((resolve) => {
      const open = indexedDB.open('tasksync');
      open.onsuccess = () => {
        const all = open.result.transaction('outbox').objectStore('outbox').getAll();
        all.onsuccess = () => resolve(all.result.some((t) => t.includes('offline-1')));
        all.onerror = () => resolve(false);
      };
      open.onerror = () => resolve(false);
    }), null, { timeout: 5000 });
    await page.reload();
    await card(page, 'offline-1').waitFor({ timeout: 5000 });
    assert.equal(await page.evaluate(() => window.store.pendingWrites), 1, 'restored after the reload');
    await server.restart();
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 40_000 });
    await page.waitForFunction(() => window.store.pendingWrites === 0, null, { timeout: 10_000 });
    const landed = (await server.ok('GET', '/api/tasks')).filter((t) => t.title === 'Written offline');
    assert.equal(landed.length, 1);
    assert.equal(landed[0].id, 'offline-1');
    // a further reload sends nothing again: the outbox is empty in IndexedDB too
    const seq = (await server.ok('GET', '/api/snapshot')).seq;
    await page.reload();
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.store.pendingWrites), 0);
    assert.equal((await server.ok('GET', '/api/snapshot')).seq, seq);
  } finally {
    consoleProblems.length = 0;
    await page.close();
    statics.close();
  }
});

test('a Claude Code session wired with `tasksync hooks install` moves on the board with no command typed', async () => {
  const sid = JSON.parse(readFileSync(join(root, 'tests', 'fixtures', 'claude', '1-SessionStart.json'))).session_id;
  const page = await openBoard();
  await claudeHook('1-SessionStart');
  await page.locator(`#sessions li[data-session-id="${sid}"][data-status="active"]`).waitFor({ timeout: 2000 });
  // its first prompt becomes its task
  await claudeHook('2-UserPromptSubmit');
  const theCard = page.locator('article.card', { hasText: 'Add rate limiting to the login endpoint' });
  const entry = (status) => theCard.locator(`li[data-session-id="${sid}"][data-status="${status}"]`);
  await entry('working').waitFor({ timeout: 2000 });
  await column(page, 'inprogress').locator('article.card', { hasText: 'Add rate limiting' }).waitFor({ timeout: 2000 });
  await claudeHook('3-PreToolUse');
  await claudeHook('4-Notification');
  await entry('needs_input').waitFor({ timeout: 2000 });
  assert.equal(await entry('needs_input').locator('.notes').textContent(), 'Claude needs your permission to use Bash');
  await claudeHook('5-PostToolUse');
  await entry('working').waitFor({ timeout: 2000 });
  await claudeHook('6-Stop');
  await entry('needs_input').waitFor({ timeout: 2000 });
  assert.equal(await entry('needs_input').locator('.notes').textContent(), 'waiting for you');
  await claudeHook('7-SessionEnd');
  await page.locator(`#sessions li[data-session-id="${sid}"][data-status="stopped"]`).waitFor({ timeout: 2000 });
  assert.deepEqual(consoleProblems, []);
  await page.close();
});

test('a session whose agent went silent shows as stale, and not once it is heard from again', async () => {
  await server.stop();
  server.extraArgs = ['--static', boardDir, '--stale-after', '1s'];
  await server.restart();
  try {
    const page = await openBoard();
    await cli(['session', 'spawn', '--id', 'quiet-agent']);
    await cli(['session', 'activate', 'quiet-agent']);
    const item = (stale) => page.locator(`#sessions li[data-session-id="quiet-agent"][data-stale="${stale}"]`);
    await item('false').waitFor({ timeout: 2000 });
    await item('true').waitFor({ timeout: 5000 });
    assert.match(await item('true').locator('.stale').textContent(), /stale/);
    await page.locator('#needs-you li[data-key="session|quiet-agent|stale"]').waitFor({ timeout: 2000 });
    await server.ok('POST', '/api/sessions/quiet-agent/heartbeat');
    await item('false').waitFor({ timeout: 2000 });
    await page.locator('#needs-you li[data-key="session|quiet-agent|stale"]').waitFor({ state: 'detached', timeout: 2000 });
    assert.deepEqual(consoleProblems, []);
    await page.close();
  } finally {
    server.extraArgs = ['--static', boardDir];
    await server.stop();
    await server.restart();
  }
});

/** A board page in its own context, notifications granted there, whose visibility the test sets. */
async function openWatchedBoard(permissions = ['notifications']) {
  const context = await browser.newContext({ permissions, viewport: { width: 1280, height: 720 } });
  await context.addInitScript((ask) => {
    // Observe notifications (the real ones, wrapped) and permission requests.
    window.__notifications = [];
    window.__permissionRequests = 0;
    const Real = window.Notification;
    if (Real) {
      const Recorded = function (title, options = {}) {
        window.__notifications.push({ title, body: options.body, tag: options.tag });
        try { return new Real(title, options); } catch { return { close() {} }; }
      };
      // Without a grant, headless Chromium answers "denied" at once; stand in for a person
      // who has not been asked yet ("default") and says yes when asked.
      let permission = ask ? 'default' : null;
      Object.defineProperty(Recorded, 'permission', { get: () => permission ?? Real.permission });
      Recorded.requestPermission = () => { window.__permissionRequests += 1; permission = 'granted'; return Promise.resolve('granted'); };
      window.Notification = Recorded;
    }
    // Headless pages are always visible: let the test say when this one is hidden.
    window.__hidden = false;
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
    window.__setHidden = (hidden) => { window.__hidden = hidden; document.dispatchEvent(new Event('visibilitychange')); };
  }, permissions.length === 0);
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleProblems.push(`pageerror: ${e.message}`));
  await page.goto(server.url + '/');
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
  return { page, context };
}

test('"needs you": a session that blocks while the page is hidden gives exactly one notification; while visible none; the title counts', async () => {
  const { page, context } = await openWatchedBoard();
  try {
    await server.ok('POST', '/api/tasks', { id: 'att-1', title: 'Ship the release' });
    await cli(['session', 'spawn', '--id', 'agent-n', '--name', 'agent N', '--task', 'att-1']);
    await cli(['task', 'update', 'att-1', '--status', 'working'], 'agent-n');
    const needsYou = page.locator('#needs-you');
    await card(page, 'att-1').locator('li[data-status="working"]').waitFor({ timeout: 2000 });
    // (earlier tests may have left sessions waiting: the title always says how many)
    const titleSaysCount = () => page.evaluate(() => {
      const n = Number(document.querySelector('#needs-you').dataset.count);
      return document.title === (n ? `(${n}) tasksync` : 'tasksync — live board');
    });
    assert.ok(await titleSaysCount());

    await page.evaluate(() => window.__setHidden(true));
    await cli(['task', 'update', 'att-1', '--status', 'blocked', '--notes', 'Need API key'], 'agent-n');
    const entry = needsYou.locator('li[data-key="att-1|agent-n|blocked"]');
    await entry.waitFor({ timeout: 2000 });
    assert.equal(await entry.locator('.notes').textContent(), 'Need API key');
    assert.match(await entry.locator('.waited').textContent(), /^waiting \d+s$/);
    await page.waitForFunction(() => window.__notifications.length === 1, null, { timeout: 2000 });
    // more changes (and re-renders) while hidden: still one
    await server.ok('POST', '/api/tasks', { id: 'att-2', title: 'Unrelated' });
    await card(page, 'att-2').waitFor({ timeout: 2000 });
    await page.evaluate(() => window.__setHidden(true));
    const [n] = await page.evaluate(() => window.__notifications);
    assert.deepEqual(await page.evaluate(() => window.__notifications.length), 1);
    assert.equal(n.title, 'agent N: blocked');
    assert.equal(n.body, 'Ship the release — Need API key');
    await page.evaluate(() => window.__setHidden(false));
    await page.locator('#needs-you').screenshot({ path: join(root, 'docs', 'needs-you.png') });
    await page.evaluate(() => window.__setHidden(true));
    assert.match(await page.title(), /^\(\d+\) tasksync$/);
    assert.ok(await titleSaysCount());

    // visible: the same kind of change notifies nobody
    await page.evaluate(() => window.__setHidden(false));
    await cli(['task', 'update', 'att-1', '--status', 'working'], 'agent-n');
    await cli(['task', 'update', 'att-1', '--status', 'needs_input', '--notes', 'Which region?'], 'agent-n');
    await needsYou.locator('li[data-key="att-1|agent-n|needs_input"]').waitFor({ timeout: 2000 });
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.__notifications.length), 1, 'none while visible');

    // a click opens the task
    await needsYou.locator('li[data-key="att-1|agent-n|needs_input"] button.open').click();
    await page.locator('article.card[data-task-id="att-1"][data-focused="true"]').waitFor({ timeout: 2000 });
    // ... with its detail: the timeline of status changes and notes
    const detail = page.locator('dialog#detail[open]');
    await detail.waitFor({ timeout: 2000 });
    assert.equal(await detail.locator('h2').textContent(), 'Ship the release');
    const timeline = detail.locator('ol.timeline li');
    await detail.locator('li[data-status="needs_input"]').waitFor({ timeout: 2000 });
    const lines = await timeline.evaluateAll((lis) => lis.map((li) => [li.dataset.type, li.querySelector('.what').textContent, li.querySelector('.notes')?.textContent ?? null]));
    assert.deepEqual(lines, [
      ['task:created', 'created: Ship the release', null],
      ['task:session_status', 'agent-n: queued', null],
      ['task:session_status', 'agent-n: working', null],
      ['task:updated', 'updated: inprogress — Ship the release', null],
      ['task:session_status', 'agent-n: blocked', 'Need API key'],
      ['task:session_status', 'agent-n: working', null],
      ['task:session_status', 'agent-n: needs input', 'Which region?'],
    ]);
    // it follows the task live
    await cli(['task', 'update', 'att-1', '--status', 'working'], 'agent-n');
    await page.waitForFunction(() => document.querySelectorAll('#detail ol.timeline li').length === 8, null, { timeout: 2000 });
    await detail.locator('button.close').click();

    await needsYou.locator('li[data-key^="att-1|"]').waitFor({ state: 'detached', timeout: 2000 });
    assert.ok(await titleSaysCount());
    assert.deepEqual(consoleProblems, []);
  } finally {
    await context.close();
  }
});

test('notification permission is asked on a click, never on load', async () => {
  const { page, context } = await openWatchedBoard([]);
  try {
    const button = page.locator('#notify');
    await button.waitFor({ state: 'visible', timeout: 2000 });
    assert.equal(await page.evaluate(() => window.__permissionRequests), 0, 'not on load');
    await button.click();
    await page.waitForFunction(() => window.__permissionRequests === 1, null, { timeout: 2000 });
    await button.waitFor({ state: 'hidden', timeout: 2000 });
  } finally {
    await context.close();
  }
});

test('a read-only link for one project (a phone on the LAN): that project alone, no write controls, nothing else', async () => {
  await server.stop();
  server.extraArgs = ['--static', boardDir, '--token', 'admin-e2e'];
  await server.restart();
  const admin = { authorization: 'Bearer admin-e2e', 'content-type': 'application/json' };
  const post = (path, body) => fetch(server.url + path, { method: 'POST', headers: admin, body: JSON.stringify(body) }).then((r) => r.json());
  try {
    await post('/api/tasks', { id: 'phone-a', title: 'Seen on the phone', projectId: 'P' });
    await post('/api/tasks', { id: 'phone-b', title: 'Not for this link', projectId: 'Q' });
    const { stdout } = await run(serverBinary, ['token', 'create', '--role', 'read', '--project', 'P', '--name', 'phone'],
      { env: { ...process.env, TASKSYNC_URL: server.url, TASKSYNC_TOKEN: 'admin-e2e' } });
    const token = stdout.trim();
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.on('pageerror', (e) => consoleProblems.push(`pageerror: ${e.message}`));
    await page.goto(`${server.url}/?token=${token}`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    await card(page, 'phone-a').waitFor({ timeout: 2000 });
    assert.equal(await page.locator('body').getAttribute('data-role'), 'read');
    assert.equal(await card(page, 'phone-b').count(), 0, 'only project P');
    assert.equal(await page.locator('#new-task').isVisible(), false, 'no write controls');
    assert.equal(await card(page, 'phone-a').locator('.actions').isVisible(), false);
    await page.screenshot({ path: join(root, 'docs', 'phone.png') });
    // live: a change in P shows; one in Q does not
    await post('/api/tasks', { id: 'phone-a2', title: 'New in P', projectId: 'P' });
    await post('/api/tasks', { id: 'phone-b2', title: 'New in Q', projectId: 'Q' });
    await card(page, 'phone-a2').waitFor({ timeout: 2000 });
    assert.equal(await card(page, 'phone-b2').count(), 0);
    // and the token cannot write, whatever the page tries
    const status = await page.evaluate(async (t) => (await fetch('/api/tasks', {
      method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: '{"title":"x","projectId":"P"}',
    })).status, token);
    assert.equal(status, 403);
    assert.deepEqual(consoleProblems, []);
    await page.close();
  } finally {
    server.extraArgs = ['--static', boardDir];
    await server.stop();
    await server.restart();
  }
});
