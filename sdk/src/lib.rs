//! The tasksync data model, shared by the server, the CLI and the WebAssembly
//! store: entity types, the three status enums, the rules that decide which
//! transitions are allowed, the event enum with its wire shape, and the
//! derived aggregate status of a task. Everything here is plain Rust that
//! compiles natively and for `wasm32-unknown-unknown`, so every part of the
//! system applies the same rules because it runs the same code.

pub mod aggregate;
pub mod event;
pub mod frame;
pub mod id;
pub mod link;
pub mod model;
pub mod replica;
pub mod rng;
pub mod transition;
pub mod types;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use aggregate::{AggregateStatus, aggregate_status};
pub use event::{Envelope, Event, SessionStatusPayload};
pub use model::{
    Priority, Session, SessionLifecycle, SessionProgress, SessionStatus, SpawnSource, Task,
    TaskStatus,
};
pub use transition::TransitionError;
