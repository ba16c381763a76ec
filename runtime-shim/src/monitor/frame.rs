//! Framing on a monitor's attach socket, spoken between the monitor and the
//! server's Attach sessions. A frame is a channel byte, the payload length
//! as a big-endian `u32`, then the payload. The channel numbers match the
//! Kubernetes streaming channels.

use std::io::Read;

/// Client to monitor: bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Monitor to client: the container's stdout (or terminal output).
pub const STDOUT: u8 = 1;
/// Monitor to client: the container's stderr.
pub const STDERR: u8 = 2;
/// Client to monitor: new terminal size, width then height as big-endian `u16`.
pub const RESIZE: u8 = 4;
/// Client to monitor: the client's stdin ended. With `stdinOnce` the monitor
/// then closes the container's stdin.
pub const STDIN_END: u8 = 255;

/// Maximum payload of one frame.
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// The name of the attach socket in a container's state directory.
pub const ATTACH_SOCKET: &str = "attach.sock";

/// Builds one frame.
pub fn encode(channel: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(channel);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Builds a resize frame.
pub fn encode_resize(width: u16, height: u16) -> Vec<u8> {
    let mut payload = width.to_be_bytes().to_vec();
    payload.extend_from_slice(&height.to_be_bytes());
    encode(RESIZE, &payload)
}

/// Parses a resize payload into (width, height).
pub fn decode_resize(payload: &[u8]) -> Option<(u16, u16)> {
    let bytes: [u8; 4] = payload.try_into().ok()?;
    Some((
        u16::from_be_bytes([bytes[0], bytes[1]]),
        u16::from_be_bytes([bytes[2], bytes[3]]),
    ))
}

/// Parses a frame header into (channel, payload length), rejecting
/// lengths over [`MAX_PAYLOAD`].
pub fn decode_header(header: [u8; 5]) -> std::io::Result<(u8, usize)> {
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if length > MAX_PAYLOAD {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("attach frame of {length} bytes is over the maximum of {MAX_PAYLOAD}"),
        ));
    }
    Ok((header[0], length))
}

/// Reads one frame; `None` at a clean end of stream.
pub fn read_frame(reader: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let (channel, length) = decode_header(header)?;
    let mut payload = vec![0u8; length];
    reader.read_exact(&mut payload)?;
    Ok(Some((channel, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buffer = encode(STDOUT, b"hello");
        buffer.extend_from_slice(&encode_resize(120, 40));
        let mut reader = buffer.as_slice();
        let (channel, payload) = read_frame(&mut reader).expect("read").expect("frame");
        assert_eq!(channel, STDOUT);
        assert_eq!(payload, b"hello");
        let (channel, payload) = read_frame(&mut reader).expect("read").expect("frame");
        assert_eq!(channel, RESIZE);
        assert_eq!(decode_resize(&payload), Some((120, 40)));
        assert!(read_frame(&mut reader).expect("end").is_none());
    }

    #[test]
    fn oversized_frame_rejected() {
        let mut header = [STDIN, 0, 0, 0, 0];
        header[1..].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_be_bytes());
        assert!(decode_header(header).is_err());
    }
}
