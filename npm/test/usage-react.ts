// Type-checked with `tsc --noEmit`: the React bindings as a TypeScript user sees them.
import { createElement, type ReactNode } from 'react';
import { Store, type Task, type ConnectionState } from 'tasksync';
import { TasksyncProvider, useTasks, useTask, useConnectionState, useSessions, useSession, useStore } from 'tasksync/react';

function List(): ReactNode {
  const tasks: Task[] = useTasks();
  const one: Task | undefined = useTask('task-1');
  const state: ConnectionState = useConnectionState();
  const store: Store = useStore();
  void [useSessions(), useSession('s'), one, state, store];
  return tasks.map((t) => createElement('li', { key: t.id }, t.title));
}

export const app = createElement(TasksyncProvider, { store: new Store({ url: 'http://127.0.0.1:7878' }) }, createElement(List));
