// What needs a person, decided from the store's snapshot alone (no DOM), so
// the board and its tests share it: sessions waiting in `needs_input` or
// `blocked` on a task, and stale sessions, oldest first; and which of those
// are new enough to notify about.

const WAITING = new Set(['needs_input', 'blocked']);
const TERMINAL = new Set(['stopped', 'failed']);

/**
 * Entries that need a person, oldest first:
 * `{ key, kind: 'progress'|'stale', status, taskId?, title?, sessionId, session, notes?, since }`.
 */
export function needsYou(tasks, sessions) {
  const byId = new Map(sessions.map((s) => [s.id, s]));
  const out = [];
  for (const t of tasks) {
    if (t.status === 'completed' || t.status === 'cancelled') continue;
    for (const p of t.sessionProgress) {
      if (!WAITING.has(p.status)) continue;
      const s = byId.get(p.sessionId);
      out.push({
        key: `${t.id}|${p.sessionId}|${p.status}`, kind: 'progress', status: p.status, taskId: t.id, title: t.title,
        sessionId: p.sessionId, session: s?.name ?? p.sessionId, notes: p.notes, since: p.lastUpdated,
      });
    }
  }
  for (const s of sessions) {
    if (!s.stale || TERMINAL.has(s.status)) continue;
    const taskId = s.taskIds[0];
    out.push({
      key: `session|${s.id}|stale`, kind: 'stale', status: 'stale', taskId, title: tasks.find((t) => t.id === taskId)?.title,
      sessionId: s.id, session: s.name ?? s.id, notes: 'not heard from', since: s.lastSeenAt ?? s.updatedAt,
    });
  }
  return out.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.key < b.key ? -1 : 1));
}

/** What fails and is worth a notification too (not listed: the board shows it in place). */
export function failures(tasks, sessions) {
  const out = [];
  for (const t of tasks) {
    for (const p of t.sessionProgress) {
      if (p.status === 'failed') out.push({ key: `${t.id}|${p.sessionId}|failed`, status: 'failed', taskId: t.id, title: t.title, sessionId: p.sessionId, session: p.sessionId, notes: p.notes });
    }
  }
  for (const s of sessions) {
    if (s.status === 'failed') out.push({ key: `session|${s.id}|failed`, status: 'failed', taskId: s.taskIds[0], sessionId: s.id, session: s.name ?? s.id, notes: s.error });
  }
  return out;
}

/**
 * One notification per session and status: `seen(entries, hidden)` returns
 * the entries to notify about — those not seen before, and only while the
 * page is hidden (entries that appear while it is visible are seen, not
 * notified). An entry that goes away and comes back is new again.
 */
export class Notifier {
  #seen = null;

  seen(entries, hidden) {
    const keys = new Set(entries.map((e) => e.key));
    // The first look (page load) notifies nothing: it is the state, not news.
    const fresh = this.#seen === null ? [] : entries.filter((e) => !this.#seen.has(e.key));
    this.#seen = keys;
    return hidden ? fresh : [];
  }
}

/** "3m", "2h", "40s": how long since an RFC 3339 time. */
export function waited(since, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
