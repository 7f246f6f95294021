'use client';
// The Store in a client component: made once per browser tab, connected in
// an effect (so server rendering never opens a socket), read with the hooks.
import { useEffect, useState } from 'react';
import { Store } from 'tasksync';
import { TasksyncProvider, useConnectionState, useTasks } from 'tasksync/react';

function List() {
  const tasks = useTasks();
  const state = useConnectionState();
  return (
    <>
      <p id="state" data-state={state}>{state}</p>
      <pre id="tasks">{tasks.map((t) => t.title).join('\n')}</pre>
    </>
  );
}

export function Tasks() {
  const [store] = useState(() => new Store({
    url: typeof window === 'undefined' ? 'http://127.0.0.1:1' : new URLSearchParams(window.location.search).get('server'),
  }));
  useEffect(() => {
    store.connect().catch(() => {});
    return () => store.close();
  }, [store]);
  return (
    <TasksyncProvider store={store}>
      <List />
    </TasksyncProvider>
  );
}
