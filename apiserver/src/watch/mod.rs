//! Watches: the shared watch cache and the per-client event streams.

pub mod cache;
pub mod event;
pub mod stream;
