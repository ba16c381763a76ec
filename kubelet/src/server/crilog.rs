//! The CRI container log format: `<RFC 3339 time> <stream> <P|F> <text>`
//! per line, where P marks a fragment continued on the next line.

use k8s_openapi::jiff::Timestamp;

/// One complete log line (fragments joined).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Timestamp text of the line's first fragment.
    pub time: String,
    pub stream: String,
    /// The text with its newline, as the container wrote it.
    pub text: Vec<u8>,
}

impl Line {
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.time.parse().ok()
    }
}

/// Joins fragments across `feed` calls.
#[derive(Default)]
pub struct Parser {
    pending: Option<Line>,
    rest: Vec<u8>,
}

impl Parser {
    /// Parses new bytes; returns the lines completed by them. An unfinished
    /// trailing line stays buffered.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Line> {
        self.rest.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.rest.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.rest.drain(..=end).collect();
            if let Some(line) = self.record(&raw[..raw.len() - 1]) {
                out.push(line);
            }
        }
        out
    }

    fn record(&mut self, raw: &[u8]) -> Option<Line> {
        let mut fields = raw.splitn(4, |b| *b == b' ');
        let time = String::from_utf8_lossy(fields.next()?).into_owned();
        let stream = String::from_utf8_lossy(fields.next()?).into_owned();
        let tag = fields.next()?;
        let text = fields.next().unwrap_or_default();
        let partial = tag.split(|b| *b == b':').next() == Some(b"P");
        let line = self.pending.get_or_insert_with(|| Line {
            time,
            stream,
            text: Vec::new(),
        });
        line.text.extend_from_slice(text);
        if partial {
            return None;
        }
        line.text.push(b'\n');
        self.pending.take()
    }
}

/// What a log request asks for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub timestamps: bool,
    pub tail: Option<usize>,
    pub since: Option<Timestamp>,
    pub limit_bytes: Option<usize>,
}

/// Renders lines as kubectl shows them: optional timestamps, filtered by
/// time, the last `tail`.
pub fn render(lines: &[Line], options: &Options) -> Vec<u8> {
    let kept: Vec<&Line> = lines.iter().filter(|l| keep(l, options)).collect();
    let start = options.tail.map_or(0, |t| kept.len().saturating_sub(t));
    let mut out = Vec::new();
    for line in &kept[start..] {
        write_line(&mut out, line, options);
    }
    if let Some(limit) = options.limit_bytes {
        out.truncate(limit);
    }
    out
}

/// Whether a line passes the time filter.
pub fn keep(line: &Line, options: &Options) -> bool {
    match (options.since, line.timestamp()) {
        (Some(since), Some(at)) => at >= since,
        _ => true,
    }
}

/// Appends one line in output form.
pub fn write_line(out: &mut Vec<u8>, line: &Line, options: &Options) {
    if options.timestamps {
        out.extend_from_slice(line.time.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&line.text);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2024-01-01T00:00:01.000000001Z stdout F one\n\
2024-01-01T00:00:02Z stderr P tw\n\
2024-01-01T00:00:03Z stderr F o\n\
2024-01-01T00:00:04Z stdout F three\n\
2024-01-01T00:00:05Z stdout F ";

    #[test]
    fn joins_fragments_and_buffers_the_unfinished_line() {
        let mut p = Parser::default();
        let lines = p.feed(LOG.as_bytes());
        let texts: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.text).into_owned())
            .collect();
        assert_eq!(texts, vec!["one\n", "two\n", "three\n"]);
        assert_eq!(lines[1].time, "2024-01-01T00:00:02Z");
        let more = p.feed(b"four\n");
        assert_eq!(more[0].text, b"four\n");
    }

    #[test]
    fn renders_tail_since_and_timestamps() {
        let lines = Parser::default().feed(LOG.as_bytes());
        let tail = Options {
            tail: Some(1),
            ..Default::default()
        };
        assert_eq!(render(&lines, &tail), b"three\n");
        let since = Options {
            since: "2024-01-01T00:00:02Z".parse().ok(),
            ..Default::default()
        };
        assert_eq!(render(&lines, &since), b"two\nthree\n");
        let stamps = Options {
            timestamps: true,
            tail: Some(1),
            ..Default::default()
        };
        assert_eq!(render(&lines, &stamps), b"2024-01-01T00:00:04Z three\n");
        let limit = Options {
            limit_bytes: Some(2),
            ..Default::default()
        };
        assert_eq!(render(&lines, &limit), b"on");
    }
}
