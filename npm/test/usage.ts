// Type-checked with `tsc --noEmit` by the test command: the public surface
// as a TypeScript user sees it. It is compiled, not run.
import { Store, allowedTaskTransitions, type TaskStatus, type Task, type SessionStatus, type AggregateStatus, type ConnectionState, type TasksyncError } from 'tasksync';

async function demo(): Promise<void> {
  const store = new Store({ url: 'http://127.0.0.1:7878', token: 't', autoTransition: true });
  const off: () => void = store.subscribe(() => {
    const snap = store.getSnapshot();
    const titles: string[] = snap.tasks.map((t: Task) => t.title);
    const state: ConnectionState = snap.connectionState;
    void titles;
    void state;
  });
  await store.connect();
  const tasks: Task[] = store.getTasks();
  const one: Task | undefined = store.getTask('task-1');
  const agg: AggregateStatus | undefined = store.aggregateStatus('task-1');
  store.on('task:session_status', (payload, event) => {
    const s: SessionStatus = payload.status;
    const notes: string | undefined = payload.notes;
    const v: number = payload.version;
    const seq: number = event.seq;
    void [s, notes, v, seq];
  });
  store.on('task:updated', ({ task }) => task.sessionProgress.forEach((p) => p.lastUpdated));
  store.on('session:failed', ({ error, session }) => [error, session.status]);
  store.on('*', (_payload, event) => event.type);
  store.on('error', (e: TasksyncError) => [e.code, e.status, e.message]);
  const created: Task = await store.createTask({ title: 'Fix auth bug', priority: 'high' });
  await store.updateTask(created.id, { status: 'completed', description: null });
  await store.updateTask(created.id, { status: 'inprogress' }, { ifMatch: created.version });
  await store.queueTask(created.id, 'session-1');
  await store.removeSessionFromTask(created.id, 'session-1');
  await store.setSessionStatus(created.id, 'session-1', 'blocked', 'Need API key');
  const session = await store.createSession({ name: 'agent', taskIds: [created.id] });
  await store.activateSession(session.id);
  await store.failSession(session.id, 'OOM');
  const retry: number | undefined = store.nextRetryAt;
  const moves: TaskStatus[] = allowedTaskTransitions(created.status);
  void [tasks, one, agg, retry, off, moves];
  store.close();
}

// Mistakes the types must catch:
function mistakes(store: Store): void {
  // @ts-expect-error: not a status
  void store.setSessionStatus('t', 's', 'sleeping');
  // @ts-expect-error: not an event type
  store.on('task:renamed', () => {});
  // @ts-expect-error: a session_status payload has no `task`
  store.on('task:session_status', (p) => p.task);
  // @ts-expect-error: priority values are fixed
  void store.createTask({ title: 'x', priority: 'critical' });
}

void demo;
void mistakes;
