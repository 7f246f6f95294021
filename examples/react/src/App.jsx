import React, { memo } from 'react';
import { allowedTaskTransitions } from 'tasksync';
import { useConnectionState, useStore, useTask, useTasks } from 'tasksync/react';

const WAITING = ['needs_input', 'blocked'];

/** Sessions that need a person, oldest first. */
function NeedsYou() {
  const tasks = useTasks();
  const waiting = tasks
    .flatMap((t) => t.sessionProgress.filter((p) => WAITING.includes(p.status)).map((p) => ({ task: t, ...p })))
    .sort((a, b) => a.lastUpdated.localeCompare(b.lastUpdated));
  if (waiting.length === 0) return null;
  return (
    <section id="needs-you">
      <h2>Needs you ({waiting.length})</h2>
      <ul>
        {waiting.map((w) => (
          <li key={`${w.task.id}/${w.sessionId}`} data-task-id={w.task.id}>
            <b>{w.task.title}</b> — {w.sessionId} is {w.status.replace('_', ' ')}{w.notes ? `: ${w.notes}` : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** One task; re-renders only when this task changes. */
const TaskRow = memo(function TaskRow({ id }) {
  const store = useStore();
  const task = useTask(id);
  if (!task) return null;
  return (
    <li data-task-id={id} data-status={task.status}>
      <span>{task.title}</span>{' '}
      <select
        aria-label={`Status of ${task.title}`}
        value=""
        onChange={(e) => store.updateTask(id, { status: e.target.value }).catch((err) => alert(err.message))}
      >
        <option value="">{task.status}</option>
        {allowedTaskTransitions(task.status).map((s) => <option key={s} value={s}>→ {s}</option>)}
      </select>
    </li>
  );
});

export function App() {
  const tasks = useTasks();
  const state = useConnectionState();
  return (
    <main>
      <h1>Tasks <small id="connection" data-state={state}>{state}</small></h1>
      <NeedsYou />
      <ul id="tasks">{tasks.map((t) => <TaskRow key={t.id} id={t.id} />)}</ul>
    </main>
  );
}
