// Test helpers: the real `tasksync serve` on 127.0.0.1:0 with a temporary
// database (restartable on the same file and port), a tiny REST client,
// and waiting for a condition without fixed sleeps.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const serverBinary = process.env.TASKSYNC_BIN ?? join(root, 'target', 'debug', 'tasksync');

export class Server {
  constructor(dir) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'tasksync-js-'));
    this.db = join(this.dir, 'test.db');
    this.addr = '127.0.0.1:0';
  }

  static async start() {
    const s = new Server();
    await s.restart();
    return s;
  }

  /** Starts (again) on the same database and, after the first start, the same port. */
  async restart() {
    const args = ['serve', '--addr', this.addr, '--db', this.db, ...(this.extraArgs ?? [])];
    this.proc = spawn(serverBinary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: this.proc.stdout });
    const line = await new Promise((resolve, reject) => {
      lines.once('line', resolve);
      this.proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const url = line.trim().split(' ').pop();
    this.url = url;
    this.addr = url.replace('http://', '');
  }

  /** SIGKILL: no goodbye to anyone. */
  async kill() {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    }
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async api(method, path, body, headers = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async ok(method, path, body) {
    const r = await this.api(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

/** Resolves once `check()` is truthy; rejects after `ms` with `what`. */
export async function until(check, what = 'condition', ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain copy of the store's view, comparable with GET /api/snapshot. */
export function plain(store) {
  return JSON.parse(JSON.stringify({ tasks: store.getTasks(), sessions: store.getSessions() }));
}

/** Waits until `store` is live at the server's head, then checks it holds exactly the server's state. */
export async function equalsServer(store, server, what = 'the store equals the server') {
  const snap = await server.ok('GET', '/api/snapshot');
  await until(() => store.connectionState === 'live' && store.seq === snap.seq, `${what}: store at seq ${snap.seq}`, 20_000);
  assert.deepEqual(plain(store), { tasks: snap.tasks, sessions: snap.sessions }, what);
}

/** How browser tests launch Chromium (Debian's; downloading one fails on these machines). */
export const CHROMIUM = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
};
