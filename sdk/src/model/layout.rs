//! A task in the exact layout the server writes it (`serde_json` of `Task`:
//! its fields in declaration order, absent optionals left out, no white
//! space), read by hand with its strings borrowed: a snapshot's 10,000
//! tasks are nearly all so. Anything else — another key order, white
//! space, an escape, a `null`, an unknown value or key — is `None`, and
//! `serde_json` reads it (`TaskIn`'s `Deserialize`), deciding what is
//! malformed. So this only ever accepts what `TaskIn` would read, and reads
//! it the same (`tests::the_layout_reads_as_serde_does`).
//!
//! Why by hand: `serde_json` tokenizes the snapshot in 2 ms natively, but
//! reading it into `TaskIn`s took 7 (per-field key matching, a visitor per
//! value); a 10,000-task snapshot's read in WebAssembly was 12 ms of the
//! Store's 30 ms load.

use super::{Priority, ProgressIn, SessionStatus, Str, TaskIn, TaskStatus};
use std::borrow::Cow;

/// Where the reading is in the text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Past `s`, if it is next.
    #[inline(never)]
    fn lit(&mut self, s: &str) -> Option<()> {
        let next = self.text.as_bytes().get(self.at..)?;
        next.starts_with(s.as_bytes()).then(|| self.at += s.len())
    }

    /// A string with no escape and no control character (both left to
    /// `serde_json`), borrowed.
    #[inline(never)]
    fn str(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let len = bytes
            .get(start..)?
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        let end = start + len;
        if bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // (between two ASCII quotes of a `str`: on character boundaries)
        self.text.get(start..end)
    }

    fn text(&mut self) -> Option<Str<'a>> {
        self.str().map(|s| Str(Cow::Borrowed(s)))
    }

    /// `key` and a string, if `key` is next.
    #[inline(never)]
    fn optional(&mut self, key: &str) -> Option<Option<Str<'a>>> {
        match self.lit(key) {
            Some(()) => self.text().map(Some),
            None => Some(None),
        }
    }

    /// A whole number as JSON writes it (no sign, fraction, exponent or
    /// leading zero) that fits a `u64`.
    #[inline(never)]
    fn number(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes().get(self.at..)?;
        let len = bytes.iter().position(|b| !b.is_ascii_digit())?;
        if len == 0 || (len > 1 && bytes[0] == b'0') {
            return None;
        }
        let n = bytes[..len].iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.at += len;
        Some(n)
    }

    /// `[` items `]`, each read by `item`, the `,` between them.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.lit("[")?;
        let mut items = Vec::new();
        if self.lit("]").is_some() {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            if self.lit("]").is_some() {
                return Some(items);
            }
            self.lit(",")?;
        }
    }
}

fn progress<'a>(c: &mut Cursor<'a>) -> Option<ProgressIn<'a>> {
    c.lit(r#"{"sessionId":"#)?;
    let session_id = c.text()?;
    c.lit(r#","status":"#)?;
    let status = SessionStatus::parse(c.str()?)?;
    c.lit(r#","lastUpdated":"#)?;
    let last_updated = c.text()?;
    let notes = c.optional(r#","notes":"#)?;
    c.lit("}")?;
    Some(ProgressIn {
        session_id,
        status,
        last_updated,
        notes,
    })
}

/// The task at the start of `text` in the server's layout, and how many
/// bytes it took; `None` for anything else (or a task cut short).
pub fn task_in(text: &str) -> Option<(TaskIn<'_>, usize)> {
    let mut c = Cursor { text, at: 0 };
    c.lit(r#"{"id":"#)?;
    let id = c.text()?;
    c.lit(r#","title":"#)?;
    let title = c.text()?;
    let description = c.optional(r#","description":"#)?;
    c.lit(r#","status":"#)?;
    let status = TaskStatus::parse(c.str()?)?;
    c.lit(r#","priority":"#)?;
    let priority = Priority::parse(c.str()?)?;
    c.lit(r#","sessionIds":"#)?;
    let session_ids = c.list(Cursor::text)?;
    c.lit(r#","sessionProgress":"#)?;
    let session_progress = c.list(progress)?;
    let parent_id = c.optional(r#","parentId":"#)?;
    let project_id = c.optional(r#","projectId":"#)?;
    c.lit(r#","createdAt":"#)?;
    let created_at = c.text()?;
    c.lit(r#","updatedAt":"#)?;
    let updated_at = c.text()?;
    c.lit(r#","version":"#)?;
    let version = c.number()?;
    c.lit("}")?;
    let task = TaskIn {
        id,
        title,
        description,
        status,
        priority,
        session_ids,
        session_progress,
        parent_id,
        project_id,
        created_at,
        updated_at,
        version,
    };
    Some((task, c.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Task;
    use crate::replica::tests_support::Random;

    /// What `serde_json` reads as the first value of `text`: the task and
    /// how many bytes it took.
    fn by_serde(text: &str) -> Option<(Task, usize)> {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<TaskIn>();
        let task = values.next()?.ok()?.into_task();
        Some((task, values.byte_offset()))
    }

    /// Random tasks as the server writes them: read by hand exactly as
    /// `serde_json` reads them; every task without an escape is read so
    /// (the hand path is taken), one with an escape is left to serde.
    #[test]
    fn the_layout_reads_as_serde_does() {
        let mut rng = Random::new(5);
        let (mut by_hand, mut left) = (0, 0);
        for i in 0..3_000 {
            rng.escapes = i % 2 == 0;
            let t = rng.task();
            let json = serde_json::to_string(&t).unwrap();
            match task_in(&json) {
                Some((read, used)) => {
                    assert_eq!((read.into_task(), used), (t.clone(), json.len()), "{json}");
                    by_hand += 1;
                }
                None => {
                    assert!(rng.escapes, "a task with no escape was not read: {json}");
                    assert!(json.contains('\\'), "{json}");
                    left += 1;
                }
            }
            assert_eq!(by_serde(&json), Some((t, json.len())));
        }
        assert!(by_hand > 1_500 && left > 500, "{by_hand} {left}");
    }

    /// Hostile text: a task cut anywhere is never read, and a task with any
    /// one character replaced is read only if `serde_json` reads it too, to
    /// the same task over the same bytes (else it is left to serde, which
    /// says what is wrong).
    #[test]
    fn cut_or_altered_text_is_read_only_as_serde_reads_it() {
        let mut rng = Random::new(9);
        rng.escapes = false;
        const INTO: &[u8] = b"\"\\}{[],:0 19a-nZ\x01";
        let (mut read, mut refused) = (0, 0);
        let mut tasks = 0;
        while tasks < 60 {
            // (short texts: every position of every task is tried)
            let json = serde_json::to_string(&rng.task()).unwrap();
            if json.len() > 700 {
                continue;
            }
            tasks += 1;
            for cut in 0..json.len() {
                if json.is_char_boundary(cut) {
                    assert!(task_in(&json[..cut]).is_none(), "{}", &json[..cut]);
                }
            }
            for at in 0..json.len() {
                if !json.as_bytes()[at].is_ascii() {
                    continue;
                }
                for &c in INTO {
                    let mut bytes = json.clone().into_bytes();
                    bytes[at] = c;
                    let text = String::from_utf8(bytes).unwrap();
                    match task_in(&text) {
                        Some((hand, used)) => {
                            assert_eq!(by_serde(&text), Some((hand.into_task(), used)), "{text}");
                            read += 1;
                        }
                        None => refused += 1,
                    }
                }
            }
        }
        assert!(read > 1_000 && refused > 10_000, "{read} {refused}");
    }
}
