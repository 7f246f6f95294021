// `tasksync mcp` against a real MCP client — the official TypeScript SDK's
// stdio client — and the real server: initialize, list the tools, call each,
// and errors that come back as tool errors with the server's message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server, serverBinary } from '../../npm/test/helpers.js';

let server;
let client;

before(async () => {
  server = new Server();
  await server.restart();
  client = new Client({ name: 'tasksync-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({
    command: serverBinary,
    args: ['mcp'],
    env: { ...process.env, TASKSYNC_URL: server.url, TASKSYNC_SESSION_ID: 'mcp-agent' },
    stderr: 'ignore',
  }));
});

after(async () => {
  await client?.close();
  await server?.cleanup();
});

/** Calls a tool; returns [isError, text]. */
async function call(name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.content.length, 1);
  assert.equal(r.content[0].type, 'text');
  return [r.isError === true, r.content[0].text];
}

test('initialize names the server and offers tools', async () => {
  assert.equal(client.getServerVersion().name, 'tasksync');
  assert.ok(client.getServerCapabilities().tools);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [
    'create_task', 'get_task', 'list_tasks', 'queue_task', 'report_session_status', 'set_task_status',
  ]);
  for (const t of tools) {
    assert.ok(t.description, t.name);
    assert.equal(t.inputSchema.type, 'object', t.name);
  }
  const create = tools.find((t) => t.name === 'create_task');
  assert.deepEqual(create.inputSchema.required, ['title']);
});

test('every tool, against the real server', async () => {
  let [err, text] = await call('create_task', { title: 'Wire the MCP server', id: 'mcp-1', priority: 'high', project_id: 'p1' });
  assert.equal(err, false, text);
  assert.equal(JSON.parse(text).id, 'mcp-1');
  await call('create_task', { title: 'Another', id: 'mcp-2' });

  [err, text] = await call('list_tasks', {});
  assert.deepEqual(JSON.parse(text).map((t) => t.id), ['mcp-1', 'mcp-2']);
  [, text] = await call('list_tasks', { project_id: 'p1' });
  assert.deepEqual(JSON.parse(text).map((t) => t.id), ['mcp-1']);

  // a session exists for the agent; the task is queued for it
  await server.ok('POST', '/api/sessions', { id: 'mcp-agent' });
  [err, text] = await call('queue_task', { task_id: 'mcp-1' });
  assert.equal(err, false, text);
  [err, text] = await call('report_session_status', { task_id: 'mcp-1', status: 'working' });
  assert.equal(err, false, text);
  assert.equal(JSON.parse(text).status, 'inprogress', 'working moved the todo task, as task update does');
  [err, text] = await call('report_session_status', { task_id: 'mcp-1', status: 'blocked', notes: 'need an API key' });
  assert.equal(err, false, text);
  [, text] = await call('get_task', { id: 'mcp-1' });
  const progress = JSON.parse(text).sessionProgress[0];
  assert.deepEqual([progress.sessionId, progress.status, progress.notes], ['mcp-agent', 'blocked', 'need an API key']);

  [, text] = await call('list_tasks', { status: 'inprogress' });
  assert.deepEqual(JSON.parse(text).map((t) => t.id), ['mcp-1']);
  [err, text] = await call('set_task_status', { id: 'mcp-2', status: 'cancelled' });
  assert.equal(err, false, text);
  assert.equal((await server.ok('GET', '/api/tasks/mcp-2')).status, 'cancelled');
});

test('refusals come back as tool errors with the server\'s message, and the server goes on', async () => {
  let [err, text] = await call('get_task', { id: 'no-such-task' });
  assert.equal(err, true);
  assert.match(text, /not_found/);
  [err, text] = await call('set_task_status', { id: 'mcp-2', status: 'completed' });
  assert.equal(err, true);
  assert.match(text, /cancelled.*todo|invalid_transition/);
  [err, text] = await call('create_task', { title: '' });
  assert.equal(err, true);
  assert.match(text, /title/);
  [err, text] = await call('report_session_status', { task_id: 'mcp-1', session_id: 'bad id!', status: 'working' });
  assert.equal(err, true, text);
  // arguments that do not fit the schema are a tool error too; an unknown tool a protocol error
  [err, text] = await call('get_task', { id: 42 });
  assert.equal(err, true);
  assert.match(text, /expected a string/);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /tool not found/);
  // still serving
  [err] = await call('get_task', { id: 'mcp-1' });
  assert.equal(err, false);
});
