/** A task's own status, set by users. */
export type TaskStatus = "todo" | "inprogress" | "completed" | "cancelled";
/** How urgent a task is. */
export type Priority = "low" | "medium" | "high" | "urgent";
/** The lifecycle of a session (an agent process). */
export type SessionLifecycle = "spawning" | "active" | "stopped" | "failed";
/** A session's status on one task, reported by the session. */
export type SessionStatus = "queued" | "working" | "needs_input" | "blocked" | "completed" | "failed" | "cancelled";
/** Who created a session. */
export type SpawnSource = "ui" | "session";
/** The one-word summary of all sessions' progress on a task. */
export type AggregateStatus = "no_sessions" | "needs_input" | "blocked" | "working" | "queued" | "all_completed" | "all_failed";
/** The store's link to the server. */
export type ConnectionState = "connecting" | "syncing" | "live" | "reconnecting" | "closed";

/** One session's progress on a task. */
export interface SessionProgress {
  sessionId: string;
  status: SessionStatus;
  /** RFC 3339, UTC. */
  lastUpdated: string;
  notes?: string;
}

/** A unit of work. `version` grows by one with every change. */
export interface Task {
  id: string;
  title: string;
  description?: string;
  status: TaskStatus;
  priority: Priority;
  sessionIds: string[];
  sessionProgress: SessionProgress[];
  parentId?: string;
  projectId?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** An agent session. */
export interface Session {
  id: string;
  name?: string;
  status: SessionLifecycle;
  taskIds: string[];
  projectId?: string;
  spawnSource: SpawnSource;
  error?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** When the session was last heard from (RFC 3339, UTC), as stored: refreshed about once a minute while it reports. */
  lastSeenAt?: string;
  /** True when a spawning or active session has not been heard from for the server's `--stale-after`. */
  stale?: boolean;
}

export interface TaskPayload { task: Task }
export interface TaskIdPayload { taskId: string }
export interface SessionStatusPayload {
  taskId: string;
  sessionId: string;
  status: SessionStatus;
  notes?: string;
  lastUpdated: string;
  /** The task's new version. */
  version: number;
}
export interface SessionPayload { session: Session }
export interface SessionChangePayload { sessionId: string; session: Session }
export interface SessionFailedPayload { sessionId: string; error?: string; session: Session }
export interface SessionIdPayload { sessionId: string }

/** Every event type and its payload. */
export interface EventPayloads {
  "task:created": TaskPayload;
  "task:updated": TaskPayload;
  "task:deleted": TaskIdPayload;
  "task:session_status": SessionStatusPayload;
  "session:spawn": SessionPayload;
  "session:active": SessionChangePayload;
  "session:stopped": SessionChangePayload;
  "session:failed": SessionFailedPayload;
  "session:updated": SessionPayload;
  "session:deleted": SessionIdPayload;
}
export type EventType = keyof EventPayloads;
/** An event as sent on the stream. */
export type TasksyncEvent = { [K in EventType]: { type: K; payload: EventPayloads[K]; seq: number } }[EventType];

/** What `getSnapshot()` returns: the same object until something changes. */
export interface StoreSnapshot {
  tasks: Task[];
  sessions: Session[];
  /** The seq of the last applied event. */
  seq: number;
  connectionState: ConnectionState;
}

export interface StoreOptions {
  /** The server, e.g. "http://127.0.0.1:7878". */
  url: string;
  /** Bearer token, when the server requires one. */
  token?: string;
  /** Move `todo` tasks to `inprogress` when a session starts working (default true). */
  autoTransition?: boolean;
  /** A WebSocket constructor (default: the global `WebSocket`), e.g. from the `ws` package. */
  WebSocket?: new (url: string) => WebSocketLike;
  /** A fetch function (default: the global `fetch`). */
  fetch?: FetchLike;
  /**
   * Where the offline outbox (writes not yet accepted by the server) is kept
   * across reloads. Default: IndexedDB in browsers; memory in Node. `null`:
   * memory only.
   */
  outbox?: OutboxStorage | null;
  /**
   * Only this project's tasks and sessions: the store loads and follows that
   * project alone (`/ws?projectId=`); a task that moves out of it is removed,
   * one that moves in appears.
   */
  projectId?: string;
}

/** Keeps the outbox's text: `load()` once at start, `save()` after every change. */
export interface OutboxStorage {
  load(): Promise<string | null | undefined>;
  save(text: string): void;
}

/** An outbox write the server refused when it finally went out (it was rolled back). */
export interface WriteFailedError extends TasksyncError {
  /** The write, as kept in the outbox (`op` names the Store method). */
  write: { op: string; [field: string]: unknown };
}

/** What the store needs of a WebSocket. */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

/** What the store needs of fetch. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface NewTask {
  id?: string;
  title: string;
  description?: string;
  status?: TaskStatus;
  priority?: Priority;
  parentId?: string;
  projectId?: string;
}

/** `null` clears an optional field; an absent field is left as it is. */
export interface TaskPatch {
  title?: string;
  description?: string | null;
  status?: TaskStatus;
  priority?: Priority;
  parentId?: string | null;
  projectId?: string | null;
}

export interface NewSession {
  id?: string;
  name?: string;
  projectId?: string;
  taskIds?: string[];
  spawnSource?: SpawnSource;
}

export interface UpdateOptions {
  /** Refuse (412) unless the task is still at this version. */
  ifMatch?: number;
}

/** A refused request: the server's error code, the HTTP status (0: unreachable). */
export interface TasksyncError extends Error {
  code: string;
  status: number;
}
