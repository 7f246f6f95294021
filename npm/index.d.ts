// The public types. The model's declarations (`pkg/types.d.ts`) are copied
// from `sdk/src/types.d.ts`, which a native test checks against what the
// Rust model serializes; the Store class is declared here.
import type {
  AggregateStatus, ConnectionState, EventPayloads, EventType, NewSession, NewTask, Session,
  SessionStatus, StoreOptions, StoreSnapshot, Task, TaskPatch, TaskStatus, TasksyncError,
  TasksyncEvent, UpdateOptions, WriteFailedError,
} from './pkg/types.js';

export * from './pkg/types.js';

/** The statuses a user may move a task to from `from` (the server's rules); [] until the engine is loaded. */
export declare function allowedTaskTransitions(from: TaskStatus): TaskStatus[];

/**
 * Loads the engine (WebAssembly, shipped inside the package). Stores load it
 * by themselves on first use (`connect()`, a write, your own transport); until
 * then a store is empty and `closed`. Await this to use a store synchronously
 * from the start. In Node the engine is loaded at import.
 */
export declare function ready(): Promise<void>;

/** The tasksync store: a live, synced copy of tasks and sessions. */
export declare class Store {
  /** Creates a store; nothing connects until `connect()`. */
  constructor(options: StoreOptions);
  /** Connects (or reconnects after `close()`); resolves once the first sync is complete. */
  connect(): Promise<void>;
  /** Closes the connection and stops all reconnecting. Pending `connect()`s reject. */
  close(): void;
  /** Closes the store and releases its WebAssembly memory at once (the garbage collector does it too, later). Do not use the store afterwards. */
  free(): void;
  readonly connectionState: ConnectionState;
  /** When reconnecting: the time (ms since the epoch) of the next attempt. */
  readonly nextRetryAt: number | undefined;
  /** The seq of the last applied event. */
  readonly seq: number;
  /** Writes not yet accepted by the server (the offline outbox). */
  readonly pendingWrites: number;
  /** The current state as one object, the same object until something changes. */
  getSnapshot(): StoreSnapshot;
  /** All tasks (oldest first). Treat the objects as read-only. */
  getTasks(): Task[];
  getTask(id: string): Task | undefined;
  getSessions(): Session[];
  getSession(id: string): Session | undefined;
  /** The aggregate session status of a task, or undefined for an unknown task. */
  aggregateStatus(taskId: string): AggregateStatus | undefined;
  /** Calls `listener()` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Calls `handler(payload, event)` for each applied event of this type; returns the unsubscribe function. */
  on<K extends EventType>(type: K, handler: (payload: EventPayloads[K], event: Extract<TasksyncEvent, { type: K }>) => void): () => void;
  /** Every applied event. */
  on(type: "*", handler: (payload: TasksyncEvent["payload"], event: TasksyncEvent) => void): () => void;
  /** Problems the store skipped over (a malformed server message, a failed auto-transition). */
  on(type: "error", handler: (error: TasksyncError) => void): () => void;
  /** An outbox write was refused by the server and rolled back. */
  on(type: "write:failed", handler: (error: WriteFailedError) => void): () => void;
  /** Calls `listener(state)` when the connection state changes; returns the unsubscribe function. */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  /** Feeds one server frame that arrived by your own transport. */
  applyMessage(text: string): void;
  /** Loads a `GET /api/snapshot` body that arrived by your own transport. */
  loadSnapshot(text: string): void;
  createTask(input: NewTask): Promise<Task>;
  /** Changes a task; with `ifMatch`, only if it is still at that version (else 412). */
  updateTask(id: string, patch: TaskPatch, options?: UpdateOptions): Promise<Task>;
  deleteTask(id: string): Promise<void>;
  /** Queues a task for a session: shown at once, rolled back if the server refuses. */
  queueTask(taskId: string, sessionId: string): Promise<Task>;
  /** Removes a session from a task: shown at once, rolled back if the server refuses. */
  removeSessionFromTask(taskId: string, sessionId: string): Promise<Task>;
  /** Sets a session's status on a task (what agents report). */
  setSessionStatus(taskId: string, sessionId: string, status: SessionStatus, notes?: string): Promise<Task>;
  createSession(input?: NewSession): Promise<Session>;
  activateSession(id: string): Promise<Session>;
  stopSession(id: string): Promise<Session>;
  failSession(id: string, error?: string): Promise<Session>;
  restartSession(id: string): Promise<Session>;
  deleteSession(id: string): Promise<void>;
}
