//! Writer of the CRI container log format:
//! `<RFC3339Nano timestamp> <stream> <P|F> <content>\n`, one entry per line,
//! with lines longer than [`MAX_LINE`] split into partial (`P`) entries.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest content of one log entry; longer lines become several entries.
pub const MAX_LINE: usize = 16 * 1024;

/// Appends CRI entries to a log file and rotates it by size: the full file
/// is renamed to `<path>.1` (replacing an older one) and a new file starts.
pub struct LogWriter {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: u64,
}

impl LogWriter {
    pub fn open(path: &Path, max_size: u64) -> std::io::Result<Self> {
        let mut writer = Self {
            path: path.to_path_buf(),
            file: None,
            size: 0,
            max_size,
        };
        writer.reopen()?;
        Ok(writer)
    }

    /// Opens the log path again, for example after someone else rotated it.
    pub fn reopen(&mut self) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Writes one entry: `partial` marks content that continues in the next entry.
    pub fn write_entry(
        &mut self,
        stream: &str,
        content: &[u8],
        partial: bool,
    ) -> std::io::Result<()> {
        let timestamp = jiff::Timestamp::now();
        let tag = if partial { "P" } else { "F" };
        let mut entry = format!("{timestamp:.9} {stream} {tag} ").into_bytes();
        entry.extend_from_slice(content);
        entry.push(b'\n');
        if self.max_size > 0 && self.size + entry.len() as u64 > self.max_size && self.size > 0 {
            self.rotate()?;
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&entry)?;
            self.size += entry.len() as u64;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        std::fs::rename(&self.path, rotated)?;
        self.reopen()
    }
}

/// Splits a byte stream into CRI entries: complete lines become `F` entries,
/// and a pending line longer than [`MAX_LINE`] is flushed as a `P` entry.
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

/// One entry cut from the stream.
pub struct Entry {
    pub content: Vec<u8>,
    pub partial: bool,
}

impl LineSplitter {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Entry> {
        let mut entries = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                entries.push(Entry {
                    content: std::mem::take(&mut self.pending),
                    partial: false,
                });
                continue;
            }
            self.pending.push(byte);
            if self.pending.len() >= MAX_LINE {
                entries.push(Entry {
                    content: std::mem::take(&mut self.pending),
                    partial: true,
                });
            }
        }
        entries
    }

    /// Returns the unterminated rest at end of stream, as a final `F` entry.
    pub fn finish(&mut self) -> Option<Entry> {
        (!self.pending.is_empty()).then(|| Entry {
            content: std::mem::take(&mut self.pending),
            partial: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_cuts_lines_and_long_partials() {
        let mut splitter = LineSplitter::default();
        let entries = splitter.push(b"one\ntw");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].content, b"one");
        assert!(!entries[0].partial);
        let entries = splitter.push(b"o\n");
        assert_eq!(entries[0].content, b"two");
        let long = vec![b'x'; MAX_LINE + 3];
        let entries = splitter.push(&long);
        assert_eq!(entries.len(), 1);
        assert!(entries[0].partial);
        let rest = splitter.finish().expect("three bytes remain");
        assert_eq!(rest.content, b"xxx");
        assert!(!rest.partial);
    }

    #[test]
    fn writer_formats_and_rotates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.log");
        let mut writer = LogWriter::open(&path, 200).expect("open");
        writer
            .write_entry("stdout", b"hello", false)
            .expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let fields: Vec<&str> = text.trim_end().splitn(4, ' ').collect();
        assert_eq!(fields[1..], ["stdout", "F", "hello"]);
        assert!(
            fields[0].ends_with('Z'),
            "timestamp {} is not UTC",
            fields[0]
        );
        for _ in 0..5 {
            writer
                .write_entry("stderr", &[b'y'; 60], false)
                .expect("write");
        }
        assert!(dir.path().join("c.log.1").exists());
        assert!(std::fs::metadata(&path).expect("stat").len() <= 200);
    }
}
