// The packed tasksync tarball in one small app (src/index.js), built by each
// bundler with its default settings, served, opened in headless Chromium and
// checked to sync live with the real server: a task created through REST
// appears on the page. (Rollup has no default for bare imports: it gets
// @rollup/plugin-node-resolve and nothing else, the minimum every Rollup app has.)
// TASKSYNC_NPM_DIR=… builds another checkout's package instead of ../../npm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Server, until, CHROMIUM } from '../../npm/test/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const npmDir = process.env.TASKSYNC_NPM_DIR ?? join(here, '..', '..', 'npm');
const run = promisify(execFile);
const bin = (name) => join(here, 'node_modules', '.bin', name);

/** A page for bundles that do not make their own (all but Vite). */
const page = (script) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="tasks"></pre><script type="module" src="./${script}"></script>\n`;

const BUNDLERS = {
  vite: { build: [bin('vite'), ['build', '--outDir', 'dist/vite', '--emptyOutDir']] },
  'webpack (production)': { build: [bin('webpack'), ['--mode', 'production', '--output-path', 'dist/webpack-prod']], dir: 'webpack-prod', html: page('main.js') },
  'webpack (development)': { build: [bin('webpack'), ['--mode', 'development', '--output-path', 'dist/webpack-dev']], dir: 'webpack-dev', html: page('main.js') },
  esbuild: { build: [bin('esbuild'), ['src/index.js', '--bundle', '--outdir=dist/esbuild']], dir: 'esbuild', html: page('index.js') },
  rollup: { build: [bin('rollup'), ['src/index.js', '--plugin', '@rollup/plugin-node-resolve', '--format', 'es', '--dir', 'dist/rollup']], dir: 'rollup', html: page('index.js') },
  // no bundler: the installed package as files, imported by a module Web Worker
  'a module Web Worker': { build: ['sh', ['-c', 'mkdir -p dist/worker && cp worker/* dist/worker/ && cp -r node_modules/tasksync dist/worker/tasksync']], dir: 'worker' },
};
BUNDLERS.vite.dir = 'vite';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

function serve(dir) {
  const http = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = join(dir, path === '/' ? 'index.html' : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => http.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${http.address().port}`, close: () => http.close() })));
}

let server;
let browser;
const built = {};

before(async () => {
  // the packed tarball, as a user gets it (not a workspace link)
  const packDir = mkdtempSync(join(tmpdir(), 'tasksync-pack-'));
  await run('npm', ['pack', '--pack-destination', packDir], { cwd: npmDir });
  const tgz = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')));
  await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', tgz], { cwd: here });
  rmSync(packDir, { recursive: true });
  rmSync(join(here, 'dist'), { recursive: true, force: true });
  // every build at once (they are independent); each one's time is reported
  await Promise.all(Object.entries(BUNDLERS).map(async ([name, b]) => {
    const t0 = performance.now();
    try {
      await run(b.build[0], b.build[1], { cwd: here, maxBuffer: 1 << 24 });
      if (b.html) writeFileSync(join(here, 'dist', b.dir, 'index.html'), b.html);
      built[name] = { ms: performance.now() - t0 };
    } catch (e) {
      built[name] = { error: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }));
  server = new Server();
  server.extraArgs = ['--allow-origin', '*'];
  await server.restart();
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

/** A tab whose page errors and console errors are collected. */
async function openTab() {
  const tab = await browser.newPage();
  const problems = [];
  tab.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  tab.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  return { tab, problems };
}

/** Loads the fixture page from `origin` and checks that it syncs live. */
async function syncsLive(origin, name, live = 'body[data-state="live"]') {
  const { tab, problems } = await openTab();
  try {
    await tab.goto(`${origin}/?server=${encodeURIComponent(server.url)}`);
    await tab.waitForSelector(live, { state: 'attached', timeout: 30_000 });
    const title = `made for ${name}`;
    await server.ok('POST', '/api/tasks', { title });
    await tab.waitForFunction((t) => document.getElementById('tasks').textContent.includes(t), title, { timeout: 5000 });
    assert.deepEqual(problems, []);
  } finally {
    await tab.close();
  }
}

const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

/** Starts a dev or app server and waits until its output names `port`, or says it is ready.
 * Colour is off (CI=1 turns it on in Vite's picocolors) and escapes are stripped anyway, so
 * `127.0.0.1:\x1b[1m4173` still matches; on any failure the child is killed, or it would keep
 * `node --test` alive for ever. */
async function startApp(command, args, options, port) {
  const env = { ...(options.env ?? process.env), NO_COLOR: '1', FORCE_COLOR: '0' };
  const proc = spawn(command, args, { ...options, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const plain = () => log.replace(/\x1b\[[0-9;]*m/g, '');
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  try {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${command} did not start: ${plain()}`)), 30_000);
      proc.stdout.on('data', () => { if (plain().includes(`:${port}`) || /Ready/.test(plain())) { clearTimeout(t); resolve(); } });
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${command} exited ${code}: ${plain()}`)); });
    });
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return { proc, log: plain };
}

test('vite dev server, default settings: pre-bundles, loads, syncs live', async () => {
  const port = await freePort();
  const vite = await startApp(bin('vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort', '--force'], { cwd: here }, port);
  try {
    await syncsLive(`http://127.0.0.1:${port}`, 'vite dev');
    assert.doesNotMatch(vite.log(), /error/i, vite.log());
  } finally {
    vite.proc.kill();
  }
});

for (const [name, b] of Object.entries(BUNDLERS)) {
  test(`${name}, default settings: builds, loads, syncs live`, async () => {
    assert.ok(!built[name].error, `build failed: ${built[name].error}`);
    const dir = join(here, 'dist', b.dir);
    assert.ok(existsSync(join(dir, 'index.html')), 'the build made a page');
    const statics = await serve(dir);
    try {
      await syncsLive(statics.url, name);
      console.log(`${name}: built in ${(built[name].ms / 1000).toFixed(1)} s`);
    } finally {
      statics.close();
    }
  });
}

test('examples/react (Vite + React with the hooks), built as a user would: list, "needs you", change status, live', async () => {
  // copied under this folder, so it resolves react, vite and the installed tarball from here
  const src = join(here, 'dist', 'example-src');
  cpSync(join(here, '..', '..', 'examples', 'react'), src, { recursive: true, filter: (f) => !f.includes('node_modules') });
  await run(bin('vite'), ['build', '--outDir', join(here, 'dist', 'example')], { cwd: src });
  const statics = await serve(join(here, 'dist', 'example'));
  const { tab, problems } = await openTab();
  try {
    await server.ok('POST', '/api/tasks', { id: 'ex-1', title: 'Example task' });
    await server.ok('POST', '/api/sessions', { id: 'ex-agent', taskIds: ['ex-1'] });
    await tab.goto(`${statics.url}/?server=${encodeURIComponent(server.url)}`);
    await tab.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
    await tab.waitForSelector('#tasks li[data-task-id="ex-1"]', { timeout: 5000 });
    // an agent starts (the page moves the task to inprogress), then asks for
    // input: it shows under "Needs you", live
    await server.ok('PUT', '/api/tasks/ex-1/sessions/ex-agent/status', { status: 'working' });
    await tab.waitForSelector('#tasks li[data-task-id="ex-1"][data-status="inprogress"]', { timeout: 5000 });
    await until(async () => (await server.ok('GET', '/api/tasks/ex-1')).status === 'inprogress', 'the auto-transition to land');
    await server.ok('PUT', '/api/tasks/ex-1/sessions/ex-agent/status', { status: 'needs_input', notes: 'Which database?' });
    await tab.waitForSelector('#needs-you li[data-task-id="ex-1"]', { timeout: 5000 });
    assert.match(await tab.locator('#needs-you').textContent(), /Which database\?/);
    // a status change from the page reaches the server
    await tab.locator('#tasks li[data-task-id="ex-1"] select').selectOption('completed');
    await tab.waitForSelector('#tasks li[data-task-id="ex-1"][data-status="completed"]', { timeout: 5000 });
    // (shown at once; the server has it once the auto-transition and the change have gone out)
    await until(async () => (await server.ok('GET', '/api/tasks/ex-1')).status === 'completed', 'the server to have ex-1 completed');
    assert.equal(await tab.evaluate(() => document.querySelector('#connection').dataset.state), 'live');
    assert.deepEqual(problems, []);
  } finally {
    await tab.close();
    statics.close();
  }
});

test('Next.js (app router, the Store in a client component): builds, renders on the server without a socket, syncs live', async () => {
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
  const dir = join(here, 'next');
  const t0 = performance.now();
  await run(bin('next'), ['build'], { cwd: dir, env, maxBuffer: 1 << 24 });
  const built = performance.now() - t0;
  const port = await freePort();
  const next = await startApp(bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, env }, port);
  try {
    const origin = `http://127.0.0.1:${port}`;
    // the server-rendered HTML: the page and the (empty, closed) list, no error
    const html = await (await fetch(origin)).text();
    assert.match(html, /Rendered on the server/);
    assert.match(html, /data-state="closed"/);
    await syncsLive(origin, 'Next.js', '#state[data-state="live"]');
    console.log(`next: built in ${(built / 1000).toFixed(1)} s`);
    assert.doesNotMatch(next.log(), /error/i, next.log());
  } finally {
    next.proc.kill();
  }
});
