//! `GET /api/snapshot` read as it arrives, piece by piece: each entity is
//! read (by `serde_json`, from a slice: the fast path) as soon as its bytes
//! are all there, and the bytes read are dropped. So the whole body never
//! has to be held at once: in the browser a 10,000-task snapshot was 3 MB of
//! text copied into WebAssembly memory, which never shrinks, before a single
//! task was read. Only the outer object (`{"epoch", "seq", "tasks": […],
//! "sessions": […]}`, in any order, other keys skipped) is walked here;
//! every value in it is read by `serde_json`, which decides what is
//! malformed. A body given whole (`SnapshotFeed::read`) takes the same path.

use super::{ById, Listing, PackedTask, SnapshotIn};
use crate::model::{Session, TaskIn, layout};
use crate::wire::Listed;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// A key of the snapshot object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Epoch,
    Seq,
    Tasks,
    Sessions,
    Other,
}

impl Field {
    fn of(key: &str) -> Field {
        match key {
            "epoch" => Field::Epoch,
            "seq" => Field::Seq,
            "tasks" => Field::Tasks,
            "sessions" => Field::Sessions,
            _ => Field::Other,
        }
    }
}

/// Where the reading is: what the next byte that is not white space may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum At {
    /// `{`
    #[default]
    Start,
    /// A key, or (right after `{`) `}`.
    Key {
        first: bool,
    },
    Colon(Field),
    Value(Field),
    /// `,` or `}` after a value.
    Next,
    /// An entity of the list, or (right after `[`) `]`.
    Item {
        tasks: bool,
        first: bool,
    },
    /// `,` or `]` after an entity.
    ItemNext {
        tasks: bool,
    },
    /// After the closing `}`: only white space.
    Done,
}

/// A snapshot being read; `push` its bytes as they come, then `finish`.
#[derive(Debug, Default)]
pub struct SnapshotFeed {
    /// Bytes pushed and not yet read (part of one value at most, but for
    /// a value that is not an entity: those are read whole).
    rest: Vec<u8>,
    at: At,
    epoch: Option<String>,
    seq: Option<u64>,
    tasks: Option<ById<PackedTask>>,
    sessions: Option<ById<Box<Session>>>,
    /// Where each task is packed (see `PackedTask::pack_with`).
    scratch: Vec<u8>,
    /// The tasks' ids while they come in list order (see `SnapshotIn::task_listing`).
    listing: Option<Listing>,
    /// How many entities were read (for messages).
    items: usize,
    /// When the value at the start of `rest` was last found cut, `rest` is
    /// read again only once it holds this many bytes (twice as many): a
    /// value of n bytes is then read a few times over, not once per piece
    /// (one task can hold megabytes of notes).
    retry_at: usize,
    /// Bytes handed to `advance` so far (see `retry_at`).
    scanned: usize,
    error: Option<String>,
}

/// One JSON value of type `T` at the start of `bytes`, and how many bytes
/// it took; `None` if the bytes may end before the value does (`last`: no
/// more bytes come).
fn value<'a, T: Deserialize<'a>>(text: &'a str, last: bool) -> Result<Option<(T, usize)>, String> {
    // (from a `str`, as every other read of JSON here: from bytes would be
    // a second copy of serde_json's reader in the WebAssembly, 42 KB)
    let bytes = text.as_bytes();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<T>();
    match values.next() {
        // (a number or literal that ends with the bytes may go on in the next ones)
        Some(Ok(v)) if last || values.byte_offset() < bytes.len() => {
            Ok(Some((v, values.byte_offset())))
        }
        // (a cut shows as the end of the input, or as an error there: a
        // number cut after `1e-` is "invalid number" at the end)
        Some(Err(e)) if last || !(e.is_eof() || at_end(bytes, e.line(), e.column())) => {
            Err(e.to_string())
        }
        _ => Ok(None),
    }
}

/// Whether line and column (as `serde_json` counts them) are the end of `bytes`.
fn at_end(bytes: &[u8], line: usize, column: usize) -> bool {
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = 1 + bytes.iter().filter(|&&b| b == b'\n').count();
    (line, column) == (lines, bytes.len() - start)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

fn add<T: Listed>(map: &mut Option<ById<T>>, item: T) {
    map.get_or_insert_with(ById::default).insert(item);
}

impl SnapshotFeed {
    pub fn new() -> SnapshotFeed {
        SnapshotFeed::default()
    }

    /// Reads a whole body.
    pub fn read(text: &str) -> Result<SnapshotIn, String> {
        let mut feed = SnapshotFeed::new();
        feed.push(text.as_bytes());
        feed.finish()
    }

    /// The next bytes of the body (a piece may end anywhere, even inside
    /// a character).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = if self.rest.is_empty() {
            // (the usual case: read straight from the piece, keep its tail)
            self.read_some(bytes, false).map(|used| {
                self.rest.extend_from_slice(&bytes[used..]);
            })
        } else {
            self.rest.extend_from_slice(bytes);
            if self.rest.len() < self.retry_at {
                return;
            }
            let mut rest = std::mem::take(&mut self.rest);
            self.read_some(&rest, false).map(|used| {
                rest.drain(..used);
                self.rest = rest;
            })
        };
        self.retry_at = 2 * self.rest.len();
        if let Err(e) = result {
            self.error = Some(e);
            self.rest = Vec::new();
        }
    }

    /// Bytes read so far, counting those read again (for tests: a body of
    /// n bytes is read in O(n), however it is cut).
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// The body ended: the snapshot, or why it is malformed.
    pub fn finish(mut self) -> Result<SnapshotIn, String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let rest = std::mem::take(&mut self.rest);
        let used = self.read_some(&rest, true)?;
        if self.at != At::Done {
            return Err(if used < rest.len() {
                "expected a value".into()
            } else {
                "the body ended before the snapshot did".into()
            });
        }
        let missing = |name: &str| format!("missing field `{name}`");
        Ok(SnapshotIn {
            task_listing: None,
            epoch: self.epoch.ok_or_else(|| missing("epoch"))?,
            seq: self.seq.ok_or_else(|| missing("seq"))?,
            tasks: self.tasks.ok_or_else(|| missing("tasks"))?,
            sessions: self.sessions.ok_or_else(|| missing("sessions"))?,
        })
        .map(|mut snap| {
            // (an id listed twice: the map holds it once)
            snap.task_listing = self.listing.filter(|l| l.count == snap.tasks.len());
            snap
        })
    }

    /// `advance` over the UTF-8 in `bytes` (up to a character cut at the
    /// end, unless `last`).
    fn read_some(&mut self, bytes: &[u8], last: bool) -> Result<usize, String> {
        self.scanned += bytes.len();
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) if e.error_len().is_none() && !last => {
                // (valid up to there: checked)
                std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return Err("the snapshot is not UTF-8".into()),
        };
        self.advance(text, last)
    }

    /// Reads what `text` holds; how many bytes it read (the rest begins a
    /// value that may go on in the next piece).
    fn advance(&mut self, text: &str, last: bool) -> Result<usize, String> {
        let bytes = text.as_bytes();
        let mut pos = 0;
        loop {
            while pos < bytes.len() && is_space(bytes[pos]) {
                pos += 1;
            }
            let Some(&b) = bytes.get(pos) else {
                return Ok(pos);
            };
            let unexpected = |wanted: &str| {
                let c = text[pos..].chars().next().unwrap_or_default();
                format!("expected {wanted}, found `{c}`")
            };
            // A value read by serde_json: `None` (return) if it may go on.
            macro_rules! read {
                ($t:ty, $what:expr) => {
                    match value::<$t>(&text[pos..], last).map_err(|e| format!("{}: {e}", $what))? {
                        Some((v, used)) => {
                            pos += used;
                            v
                        }
                        None => return Ok(pos),
                    }
                };
            }
            self.at = match self.at {
                At::Start if b == b'{' => {
                    pos += 1;
                    At::Key { first: true }
                }
                At::Start => return Err(unexpected("`{`")),
                At::Key { first: true } if b == b'}' => {
                    pos += 1;
                    At::Done
                }
                At::Key { .. } if b == b'"' => At::Colon(Field::of(&read!(String, "a key"))),
                At::Key { .. } => return Err(unexpected("a key")),
                At::Colon(field) if b == b':' => {
                    pos += 1;
                    At::Value(field)
                }
                At::Colon(_) => return Err(unexpected("`:`")),
                At::Value(field @ (Field::Tasks | Field::Sessions)) => {
                    let tasks = field == Field::Tasks;
                    let name = if tasks { "tasks" } else { "sessions" };
                    if b != b'[' {
                        return Err(format!("{name}: {}", unexpected("an array")));
                    }
                    let fresh = if tasks {
                        self.listing = Some(Listing::default());
                        self.tasks.replace(ById::default()).is_none()
                    } else {
                        self.sessions.replace(ById::default()).is_none()
                    };
                    if !fresh {
                        return Err(format!("duplicate field `{name}`"));
                    }
                    pos += 1;
                    At::Item { tasks, first: true }
                }
                At::Value(Field::Epoch) => {
                    let epoch = read!(String, "epoch");
                    if self.epoch.replace(epoch).is_some() {
                        return Err("duplicate field `epoch`".into());
                    }
                    At::Next
                }
                At::Value(Field::Seq) => {
                    let seq = read!(u64, "seq");
                    if self.seq.replace(seq).is_some() {
                        return Err("duplicate field `seq`".into());
                    }
                    At::Next
                }
                At::Value(Field::Other) => {
                    read!(IgnoredAny, "a value");
                    At::Next
                }
                At::Next if b == b',' => {
                    pos += 1;
                    At::Key { first: false }
                }
                At::Next if b == b'}' => {
                    pos += 1;
                    At::Done
                }
                At::Next => return Err(unexpected("`,` or `}`")),
                At::Item { first: true, .. } if b == b']' => {
                    pos += 1;
                    At::Next
                }
                At::Item { tasks, .. } => {
                    let what = || format!("entity {} of the snapshot", self.items + 1);
                    if tasks {
                        // (in the server's layout, read by hand; else by serde_json)
                        let task = match layout::task_in(&text[pos..]) {
                            Some((task, used)) => {
                                pos += used;
                                task
                            }
                            None => read!(TaskIn, what()),
                        };
                        if let Some(listing) = &mut self.listing
                            && !listing.push(task.list_key())
                        {
                            self.listing = None;
                        }
                        add(
                            &mut self.tasks,
                            PackedTask::read_with(&task, &mut self.scratch),
                        );
                    } else {
                        let session = read!(Session, what());
                        add(&mut self.sessions, Box::new(session));
                    }
                    self.items += 1;
                    At::ItemNext { tasks }
                }
                At::ItemNext { tasks } if b == b',' => {
                    pos += 1;
                    At::Item {
                        tasks,
                        first: false,
                    }
                }
                At::ItemNext { .. } if b == b']' => {
                    pos += 1;
                    At::Next
                }
                At::ItemNext { .. } => return Err(unexpected("`,` or `]`")),
                At::Done => return Err("trailing characters after the snapshot".into()),
            };
        }
    }
}
