// React bindings for tasksync: hooks over one Store, built on
// useSyncExternalStore. The Store hands out the same object for an entity
// until that entity changes, so a component re-renders only when what it
// reads changed. On the server (SSR) they read the store as it is — empty,
// or what `loadSnapshot()` put there — and never open a socket.
import { createContext, createElement, useCallback, useContext, useSyncExternalStore } from 'react';

const StoreContext = createContext(null);

/** Makes `store` the one the hooks below use, for everything inside. */
export function TasksyncProvider({ store, children }) {
  return createElement(StoreContext.Provider, { value: store }, children);
}

/** The store from the nearest `<TasksyncProvider>` (or the one passed). */
export function useStore(store) {
  const fromContext = useContext(StoreContext);
  const s = store ?? fromContext;
  if (!s) throw new Error('tasksync: no store here; wrap the tree in <TasksyncProvider store={store}> or pass a store to the hook');
  return s;
}

/** Subscribes to `read(store)`; re-renders only when its result is another object. */
function useRead(store, read) {
  const s = useStore(store);
  const subscribe = useCallback((onChange) => s.subscribe(onChange), [s]);
  const get = () => read(s);
  return useSyncExternalStore(subscribe, get, get);
}

export const useTasks = (store) => useRead(store, (s) => s.getTasks());
export const useTask = (id, store) => useRead(store, (s) => s.getTask(id));
export const useSessions = (store) => useRead(store, (s) => s.getSessions());
export const useSession = (id, store) => useRead(store, (s) => s.getSession(id));
export const useConnectionState = (store) => useRead(store, (s) => s.connectionState);
