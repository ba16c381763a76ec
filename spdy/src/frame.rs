//! SPDY/3.1 frames and their wire format (SPDY draft 3.1, section 2.2).
//!
//! A control frame starts with the control bit, the 15-bit version (3) and
//! a 16-bit type; a data frame starts with a clear bit and a 31-bit stream
//! id. Both continue with 8 bits of flags and a 24-bit payload length.
//! Header blocks stay compressed here; [`crate::headers`] decodes them.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// FLAG_FIN on data, SYN_STREAM, SYN_REPLY and HEADERS frames.
pub const FLAG_FIN: u8 = 0x01;
/// FLAG_UNIDIRECTIONAL on SYN_STREAM.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// The largest payload a frame can carry (24-bit length).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;
/// The SETTINGS id of SETTINGS_INITIAL_WINDOW_SIZE.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// RST_STREAM status codes (SPDY draft 3.1, section 2.6.3).
pub mod rst {
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const INVALID_STREAM: u32 = 2;
    pub const REFUSED_STREAM: u32 = 3;
    pub const CANCEL: u32 = 5;
    pub const INTERNAL_ERROR: u32 = 6;
    pub const FLOW_CONTROL_ERROR: u32 = 7;
}

/// GOAWAY status codes (SPDY draft 3.1, section 2.6.6).
pub mod goaway {
    pub const OK: u32 = 0;
    pub const PROTOCOL_ERROR: u32 = 1;
}

/// Errors reading or decoding frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("failed to read a SPDY frame: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported SPDY version {0} (only SPDY/3.1 is supported)")]
    Version(u16),
    #[error("invalid SPDY {kind} frame: {reason}")]
    Invalid { kind: &'static str, reason: String },
}

/// One SPDY frame; header blocks are still compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        header_block: Bytes,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        header_block: Bytes,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// (id, value) pairs; the per-entry flags are not kept.
    Settings {
        entries: Vec<(u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        header_block: Bytes,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    /// A control frame of a type this implementation ignores, as the
    /// specification requires of unknown types.
    Unknown {
        frame_type: u16,
    },
}

impl Frame {
    /// Encodes the frame with its 8-byte header.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                let mut out = Vec::with_capacity(8 + data.len());
                out.extend_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
                push_flags_length(&mut out, *flags, data.len());
                out.extend_from_slice(data);
                out
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                header_block,
            } => {
                let mut payload = Vec::with_capacity(10 + header_block.len());
                payload.extend_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
                payload.extend_from_slice(&(associated_to & STREAM_ID_MASK).to_be_bytes());
                payload.push((priority & 0x07) << 5);
                payload.push(0);
                payload.extend_from_slice(header_block);
                control(TYPE_SYN_STREAM, *flags, &payload)
            }
            Frame::SynReply {
                stream_id,
                flags,
                header_block,
            } => control(
                TYPE_SYN_REPLY,
                *flags,
                &stream_and_block(*stream_id, header_block),
            ),
            Frame::Headers {
                stream_id,
                flags,
                header_block,
            } => control(
                TYPE_HEADERS,
                *flags,
                &stream_and_block(*stream_id, header_block),
            ),
            Frame::RstStream { stream_id, status } => {
                control(TYPE_RST_STREAM, 0, &two_words(*stream_id, *status))
            }
            Frame::Settings { entries } => {
                let mut payload = Vec::with_capacity(4 + 8 * entries.len());
                let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
                payload.extend_from_slice(&count.to_be_bytes());
                for (id, value) in entries {
                    payload.extend_from_slice(&(id & 0x00ff_ffff).to_be_bytes());
                    payload.extend_from_slice(&value.to_be_bytes());
                }
                control(TYPE_SETTINGS, 0, &payload)
            }
            Frame::Ping { id } => control(TYPE_PING, 0, &id.to_be_bytes()),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => control(TYPE_GOAWAY, 0, &two_words(*last_good_stream_id, *status)),
            Frame::WindowUpdate { stream_id, delta } => control(
                TYPE_WINDOW_UPDATE,
                0,
                &two_words(*stream_id, delta & STREAM_ID_MASK),
            ),
            Frame::Unknown { frame_type } => control(*frame_type, 0, &[]),
        }
    }

    /// Reads one frame; returns `None` at a clean end of input between frames.
    pub async fn read<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Frame>, FrameError> {
        let mut head = [0u8; 8];
        match reader.read_exact(&mut head[..1]).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        reader.read_exact(&mut head[1..]).await?;
        let flags = head[4];
        let length = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
        let mut payload = vec![0u8; length];
        reader.read_exact(&mut payload).await?;
        let payload = Bytes::from(payload);
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: first & STREAM_ID_MASK,
                flags,
                data: payload,
            }));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let frame_type = u16::from_be_bytes([head[2], head[3]]);
        decode_control(frame_type, flags, payload).map(Some)
    }
}

fn decode_control(frame_type: u16, flags: u8, payload: Bytes) -> Result<Frame, FrameError> {
    let frame = match frame_type {
        TYPE_SYN_STREAM => {
            need("SYN_STREAM", &payload, 10)?;
            Frame::SynStream {
                stream_id: word(&payload, 0) & STREAM_ID_MASK,
                associated_to: word(&payload, 4) & STREAM_ID_MASK,
                priority: payload[8] >> 5,
                flags,
                header_block: payload.slice(10..),
            }
        }
        TYPE_SYN_REPLY => {
            need("SYN_REPLY", &payload, 4)?;
            Frame::SynReply {
                stream_id: word(&payload, 0) & STREAM_ID_MASK,
                flags,
                header_block: payload.slice(4..),
            }
        }
        TYPE_HEADERS => {
            need("HEADERS", &payload, 4)?;
            Frame::Headers {
                stream_id: word(&payload, 0) & STREAM_ID_MASK,
                flags,
                header_block: payload.slice(4..),
            }
        }
        TYPE_RST_STREAM => {
            need("RST_STREAM", &payload, 8)?;
            Frame::RstStream {
                stream_id: word(&payload, 0) & STREAM_ID_MASK,
                status: word(&payload, 4),
            }
        }
        TYPE_SETTINGS => decode_settings(&payload)?,
        TYPE_PING => {
            need("PING", &payload, 4)?;
            Frame::Ping {
                id: word(&payload, 0),
            }
        }
        TYPE_GOAWAY => {
            need("GOAWAY", &payload, 8)?;
            Frame::GoAway {
                last_good_stream_id: word(&payload, 0) & STREAM_ID_MASK,
                status: word(&payload, 4),
            }
        }
        TYPE_WINDOW_UPDATE => {
            need("WINDOW_UPDATE", &payload, 8)?;
            Frame::WindowUpdate {
                stream_id: word(&payload, 0) & STREAM_ID_MASK,
                delta: word(&payload, 4) & STREAM_ID_MASK,
            }
        }
        other => Frame::Unknown { frame_type: other },
    };
    Ok(frame)
}

fn decode_settings(payload: &[u8]) -> Result<Frame, FrameError> {
    need("SETTINGS", payload, 4)?;
    let count = usize::try_from(word(payload, 0)).unwrap_or(usize::MAX);
    let expected = count.checked_mul(8).and_then(|bytes| bytes.checked_add(4));
    if expected != Some(payload.len()) {
        return Err(FrameError::Invalid {
            kind: "SETTINGS",
            reason: format!(
                "{count} entries do not fit a {}-byte payload",
                payload.len()
            ),
        });
    }
    let entries = (0..count)
        .map(|index| {
            let offset = 4 + index * 8;
            (
                word(payload, offset) & 0x00ff_ffff,
                word(payload, offset + 4),
            )
        })
        .collect();
    Ok(Frame::Settings { entries })
}

fn need(kind: &'static str, payload: &[u8], length: usize) -> Result<(), FrameError> {
    if payload.len() < length {
        return Err(FrameError::Invalid {
            kind,
            reason: format!(
                "payload has {} bytes, expected at least {length}",
                payload.len()
            ),
        });
    }
    Ok(())
}

fn word(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

fn two_words(first: u32, second: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(first & STREAM_ID_MASK).to_be_bytes());
    out[4..].copy_from_slice(&second.to_be_bytes());
    out
}

fn stream_and_block(stream_id: u32, header_block: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(4 + header_block.len());
    payload.extend_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
    payload.extend_from_slice(header_block);
    payload
}

fn control(frame_type: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&frame_type.to_be_bytes());
    push_flags_length(&mut out, flags, payload.len());
    out.extend_from_slice(payload);
    out
}

fn push_flags_length(out: &mut Vec<u8>, flags: u8, length: usize) {
    let length = u32::try_from(length.min(MAX_PAYLOAD)).unwrap_or(0);
    out.push(flags);
    out.extend_from_slice(&length.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(frame: Frame) -> Frame {
        let bytes = frame.encode();
        let mut reader = bytes.as_slice();
        let decoded = Frame::read(&mut reader).await.expect("decodes");
        assert!(reader.is_empty(), "the whole frame was consumed");
        decoded.expect("a frame")
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let frames = [
            Frame::Data {
                stream_id: 5,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello"),
            },
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 2,
                flags: FLAG_UNIDIRECTIONAL,
                header_block: Bytes::from_static(b"\x78\x9c"),
            },
            Frame::SynReply {
                stream_id: 3,
                flags: 0,
                header_block: Bytes::from_static(b"abc"),
            },
            Frame::RstStream {
                stream_id: 7,
                status: rst::CANCEL,
            },
            Frame::Settings {
                entries: vec![(SETTINGS_INITIAL_WINDOW_SIZE, 65536)],
            },
            Frame::Ping { id: 1 },
            Frame::GoAway {
                last_good_stream_id: 9,
                status: goaway::OK,
            },
            Frame::WindowUpdate {
                stream_id: 0,
                delta: 32768,
            },
        ];
        for frame in frames {
            assert_eq!(round_trip(frame.clone()).await, frame);
        }
    }

    #[test]
    fn ping_matches_spec_bytes() {
        let bytes = Frame::Ping { id: 1 }.encode();
        assert_eq!(
            bytes,
            [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]
        );
    }

    #[test]
    fn data_frame_matches_spec_bytes() {
        let frame = Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"ok"),
        };
        assert_eq!(frame.encode(), [0, 0, 0, 1, 0x01, 0, 0, 2, b'o', b'k']);
    }

    #[tokio::test]
    async fn end_of_input_is_none() {
        let mut reader: &[u8] = &[];
        assert!(Frame::read(&mut reader).await.expect("no error").is_none());
    }

    #[tokio::test]
    async fn truncated_frame_is_error() {
        let mut bytes = Frame::Ping { id: 1 }.encode();
        bytes.truncate(10);
        let mut reader = bytes.as_slice();
        assert!(Frame::read(&mut reader).await.is_err());
    }

    #[tokio::test]
    async fn other_version_is_rejected() {
        let mut bytes = Frame::Ping { id: 1 }.encode();
        bytes[1] = 2;
        let mut reader = bytes.as_slice();
        let error = Frame::read(&mut reader).await.expect_err("rejected");
        assert!(matches!(error, FrameError::Version(2)), "{error}");
    }

    #[tokio::test]
    async fn unknown_control_type_is_kept() {
        let bytes = control(0x0a, 0, b"xyz");
        let mut reader = bytes.as_slice();
        let frame = Frame::read(&mut reader).await.expect("decodes");
        assert_eq!(frame, Some(Frame::Unknown { frame_type: 0x0a }));
    }

    #[tokio::test]
    async fn short_rst_stream_is_rejected() {
        let bytes = control(TYPE_RST_STREAM, 0, &[0, 0, 0, 1]);
        let mut reader = bytes.as_slice();
        assert!(Frame::read(&mut reader).await.is_err());
    }
}
