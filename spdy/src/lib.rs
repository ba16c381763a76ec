//! SPDY/3.1 (the framing under Kubernetes' exec, attach and port-forward
//! streams) in the server role: frames, header compression with the SPDY/3
//! dictionary, streams with flow control, PING and GOAWAY.

mod connection;
mod dictionary;
pub mod frame;
pub mod headers;
mod stream;

#[cfg(test)]
mod tests;

pub use connection::{Connection, Control};
pub use headers::{HeaderError, Headers};
pub use stream::{Stream, StreamError, StreamReader, StreamWriter};

/// The `Upgrade` header value of SPDY/3.1.
pub const UPGRADE: &str = "SPDY/3.1";

/// Errors of a SPDY connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frame(#[from] frame::FrameError),
    #[error(transparent)]
    Header(#[from] HeaderError),
}
