//! SPDY/3 header blocks: a 32-bit pair count, then each name and value as a
//! 32-bit length and bytes, compressed with zlib. Each direction of a
//! connection runs one zlib stream, primed with the SPDY/3 dictionary,
//! across all of its header blocks (SPDY draft 3.1, section 2.6.10).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::dictionary::dictionary;

/// The largest decompressed header block accepted, against zlib bombs.
const MAX_HEADER_BLOCK: usize = 1 << 20;

/// Errors compressing or decoding header blocks.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("failed to decompress a SPDY header block: {0}")]
    Decompress(String),
    #[error("failed to compress a SPDY header block: {0}")]
    Compress(String),
    #[error("invalid SPDY header block: {0}")]
    Invalid(String),
}

/// Header name and value pairs in wire order. Names are lowercase on the
/// wire; several values of one name are joined with NUL bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// Returns the first value of `name`, compared without case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.split('\0').next().unwrap_or(value))
    }

    /// Serializes the pairs into an uncompressed header block.
    fn to_block(&self) -> Vec<u8> {
        let mut block = Vec::new();
        push_length(&mut block, self.0.len());
        for (name, value) in &self.0 {
            push_length(&mut block, name.len());
            block.extend_from_slice(name.to_ascii_lowercase().as_bytes());
            push_length(&mut block, value.len());
            block.extend_from_slice(value.as_bytes());
        }
        block
    }

    /// Parses an uncompressed header block.
    fn from_block(block: &[u8]) -> Result<Self, HeaderError> {
        let mut cursor = Cursor { block, offset: 0 };
        let count = cursor.length()?;
        let mut pairs = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let name = cursor.text()?;
            if name.is_empty() {
                return Err(HeaderError::Invalid("a header name is empty".to_string()));
            }
            let value = cursor.text()?;
            pairs.push((name, value));
        }
        Ok(Self(pairs))
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Headers {
    fn from(pairs: [(&str, &str); N]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        )
    }
}

struct Cursor<'a> {
    block: &'a [u8],
    offset: usize,
}

impl Cursor<'_> {
    fn length(&mut self) -> Result<usize, HeaderError> {
        let end = self.offset + 4;
        let bytes = self.block.get(self.offset..end).ok_or_else(|| {
            HeaderError::Invalid(format!(
                "block ends inside a length at byte {}",
                self.offset
            ))
        })?;
        self.offset = end;
        let length = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        Ok(usize::try_from(length).unwrap_or(usize::MAX))
    }

    fn text(&mut self) -> Result<String, HeaderError> {
        let length = self.length()?;
        let end = self.offset.saturating_add(length);
        let bytes = self.block.get(self.offset..end).ok_or_else(|| {
            HeaderError::Invalid(format!(
                "a {length}-byte string at byte {} runs past the block end",
                self.offset
            ))
        })?;
        self.offset = end;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| HeaderError::Invalid("a header is not UTF-8".to_string()))
    }
}

fn push_length(block: &mut Vec<u8>, length: usize) {
    block.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes());
}

/// The compressing side of one connection direction.
pub struct HeaderEncoder {
    zlib: Compress,
}

impl HeaderEncoder {
    pub fn new() -> Result<Self, HeaderError> {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(dictionary())
            .map_err(|error| HeaderError::Compress(error.to_string()))?;
        Ok(Self { zlib })
    }

    /// Compresses `headers` as the next block of this direction's stream,
    /// ending with a sync flush so the peer can decode it at once.
    pub fn encode(&mut self, headers: &Headers) -> Result<Vec<u8>, HeaderError> {
        let block = headers.to_block();
        let mut out = Vec::with_capacity(block.len() + 64);
        let start_in = self.zlib.total_in();
        loop {
            let consumed = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(usize::MAX);
            out.reserve(256);
            self.zlib
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|error| HeaderError::Compress(error.to_string()))?;
            let consumed = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(usize::MAX);
            // A flush is complete once all input is in and zlib left spare
            // output room, as zlib's deflate documentation describes.
            if consumed == block.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// The decompressing side of one connection direction.
pub struct HeaderDecoder {
    zlib: Decompress,
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderDecoder {
    pub fn new() -> Self {
        Self {
            zlib: Decompress::new(true),
        }
    }

    /// Decompresses the next block of this direction's stream and parses it.
    pub fn decode(&mut self, compressed: &[u8]) -> Result<Headers, HeaderError> {
        let mut out = Vec::with_capacity(compressed.len() * 4 + 64);
        let start_in = self.zlib.total_in();
        loop {
            let consumed = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(usize::MAX);
            if consumed == compressed.len() && out.len() < out.capacity() {
                break;
            }
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(256));
            }
            match self
                .zlib
                .decompress_vec(&compressed[consumed..], &mut out, FlushDecompress::Sync)
            {
                Ok(Status::StreamEnd) => break,
                Ok(Status::Ok | Status::BufError) => {}
                Err(error) if error.needs_dictionary().is_some() => {
                    self.zlib
                        .set_dictionary(dictionary())
                        .map_err(|error| HeaderError::Decompress(error.to_string()))?;
                    continue;
                }
                Err(error) => return Err(HeaderError::Decompress(error.to_string())),
            }
            if out.len() > MAX_HEADER_BLOCK {
                return Err(HeaderError::Invalid(format!(
                    "the header block exceeds {MAX_HEADER_BLOCK} bytes"
                )));
            }
            let now = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(usize::MAX);
            if now == consumed && out.len() < out.capacity() {
                // No progress with room to spare: the input is incomplete.
                return Err(HeaderError::Decompress(
                    "the header block ends inside a compressed block".to_string(),
                ));
            }
        }
        Headers::from_block(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_checksum_matches_spec() {
        let mut zlib = Compress::new(Compression::default(), true);
        let adler = zlib.set_dictionary(dictionary()).expect("dictionary");
        assert_eq!(adler, 0xe3c6_a7c2);
    }

    #[test]
    fn blocks_share_one_stream() {
        let mut encoder = HeaderEncoder::new().expect("encoder");
        let mut decoder = HeaderDecoder::new();
        let first = Headers::from([("streamtype", "error"), ("port", "80")]);
        let second = Headers::from([("streamtype", "data"), ("port", "80")]);
        let first_block = encoder.encode(&first).expect("first");
        let second_block = encoder.encode(&second).expect("second");
        // Only the first block carries the zlib header with the dictionary id.
        assert_eq!(first_block[0], 0x78);
        assert_eq!(&first_block[2..6], &0xe3c6_a7c2u32.to_be_bytes());
        assert_eq!(decoder.decode(&first_block).expect("first"), first);
        assert_eq!(decoder.decode(&second_block).expect("second"), second);
    }

    #[test]
    fn second_block_alone_fails() {
        let mut encoder = HeaderEncoder::new().expect("encoder");
        let _ = encoder.encode(&Headers::from([("a", "1")])).expect("first");
        let second = encoder
            .encode(&Headers::from([("a", "1")]))
            .expect("second");
        assert!(HeaderDecoder::new().decode(&second).is_err());
    }

    #[test]
    fn empty_headers_round_trip() {
        let mut encoder = HeaderEncoder::new().expect("encoder");
        let block = encoder.encode(&Headers::default()).expect("block");
        let headers = HeaderDecoder::new().decode(&block).expect("decoded");
        assert!(headers.0.is_empty());
    }

    #[test]
    fn get_ignores_case_and_takes_first_value() {
        let headers = Headers::from([("streamtype", "data"), ("requestid", "1\u{0}2")]);
        assert_eq!(headers.get("streamType"), Some("data"));
        assert_eq!(headers.get("requestID"), Some("1"));
        assert_eq!(headers.get("port"), None);
    }

    #[test]
    fn truncated_block_is_rejected() {
        let block = Headers::from([("port", "80")]).to_block();
        let error = Headers::from_block(&block[..block.len() - 1]).expect_err("rejected");
        assert!(
            error.to_string().contains("runs past the block end"),
            "{error}"
        );
    }

    #[test]
    fn names_are_sent_lowercase() {
        let block = Headers::from([("streamType", "data")]).to_block();
        let parsed = Headers::from_block(&block).expect("parsed");
        assert_eq!(parsed.0[0].0, "streamtype");
    }
}
