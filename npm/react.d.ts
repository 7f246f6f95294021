// React bindings: `import { TasksyncProvider, useTasks } from 'tasksync/react'`.
import type { ReactNode } from 'react';
import type { ConnectionState, Session, Store, Task } from './index.js';

/** Makes `store` the one the hooks use, for everything inside. */
export declare function TasksyncProvider(props: { store: Store; children?: ReactNode }): ReactNode;
/** The store from the nearest provider, or the one passed. */
export declare function useStore(store?: Store): Store;
/** All tasks; re-renders when any task changes. */
export declare function useTasks(store?: Store): Task[];
/** One task; re-renders only when that task changes. */
export declare function useTask(id: string, store?: Store): Task | undefined;
export declare function useSessions(store?: Store): Session[];
export declare function useSession(id: string, store?: Store): Session | undefined;
export declare function useConnectionState(store?: Store): ConnectionState;
