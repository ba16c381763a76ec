//! Connection tests: a client made of raw frames talks to [`Connection`]
//! over an in-memory pipe.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use crate::frame::{FLAG_FIN, Frame, SETTINGS_INITIAL_WINDOW_SIZE, rst};
use crate::headers::{HeaderDecoder, HeaderEncoder, Headers};
use crate::{Connection, Stream};

const TIMEOUT: Duration = Duration::from_secs(10);

struct Client {
    reader: ReadHalf<DuplexStream>,
    writer: WriteHalf<DuplexStream>,
    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
}

impl Client {
    async fn send(&mut self, frame: Frame) {
        self.writer
            .write_all(&frame.encode())
            .await
            .expect("client write");
    }

    async fn open(&mut self, stream_id: u32, headers: &Headers, flags: u8) {
        let header_block = Bytes::from(self.encoder.encode(headers).expect("encode"));
        self.send(Frame::SynStream {
            stream_id,
            associated_to: 0,
            priority: 0,
            flags,
            header_block,
        })
        .await;
    }

    async fn next(&mut self) -> Frame {
        let frame = tokio::time::timeout(TIMEOUT, Frame::read(&mut self.reader))
            .await
            .expect("a frame in time")
            .expect("valid frame")
            .expect("connection open");
        if let Frame::SynReply { header_block, .. } = &frame {
            self.decoder.decode(header_block).expect("reply headers");
        }
        frame
    }

    /// Returns the next frame that is not a WINDOW_UPDATE.
    async fn next_skipping_updates(&mut self) -> Frame {
        loop {
            let frame = self.next().await;
            if !matches!(frame, Frame::WindowUpdate { .. }) {
                return frame;
            }
        }
    }
}

fn start() -> (Connection, Client) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let connection = Connection::server(server_io).expect("connection");
    let (reader, writer) = tokio::io::split(client_io);
    let client = Client {
        reader,
        writer,
        encoder: HeaderEncoder::new().expect("encoder"),
        decoder: HeaderDecoder::new(),
    };
    (connection, client)
}

async fn accept(connection: &mut Connection) -> Stream {
    tokio::time::timeout(TIMEOUT, connection.accept())
        .await
        .expect("a stream in time")
        .expect("a stream")
}

fn data(stream_id: u32, flags: u8, bytes: &'static [u8]) -> Frame {
    Frame::Data {
        stream_id,
        flags,
        data: Bytes::from_static(bytes),
    }
}

#[tokio::test]
async fn stream_carries_headers_and_data_both_ways() {
    let (mut connection, mut client) = start();
    let headers = Headers::from([("streamtype", "stdin"), ("port", "80")]);
    client.open(1, &headers, 0).await;
    let mut stream = accept(&mut connection).await;
    assert_eq!(stream.id, 1);
    assert_eq!(stream.header("streamType"), Some("stdin"));
    assert!(matches!(
        client.next().await,
        Frame::SynReply { stream_id: 1, .. }
    ));

    client.send(data(1, 0, b"hello ")).await;
    client.send(data(1, FLAG_FIN, b"world")).await;
    assert_eq!(stream.reader.recv().await.as_deref(), Some(&b"hello "[..]));
    assert_eq!(stream.reader.recv().await.as_deref(), Some(&b"world"[..]));
    assert_eq!(stream.reader.recv().await, None);

    stream.writer.send(b"back").await.expect("send");
    stream.writer.finish().await.expect("finish");
    assert_eq!(client.next().await, data(1, 0, b"back"));
    assert_eq!(client.next().await, data(1, FLAG_FIN, b""));
}

#[tokio::test]
async fn second_stream_decodes_with_shared_zlib_state() {
    let (mut connection, mut client) = start();
    client
        .open(1, &Headers::from([("streamtype", "error")]), 0)
        .await;
    client
        .open(3, &Headers::from([("streamtype", "data")]), 0)
        .await;
    assert_eq!(
        accept(&mut connection).await.header("streamtype"),
        Some("error")
    );
    assert_eq!(
        accept(&mut connection).await.header("streamtype"),
        Some("data")
    );
}

#[tokio::test]
async fn ping_is_echoed() {
    let (_connection, mut client) = start();
    client.send(Frame::Ping { id: 7 }).await;
    assert_eq!(client.next().await, Frame::Ping { id: 7 });
}

#[tokio::test]
async fn even_stream_id_is_reset() {
    let (_connection, mut client) = start();
    client.open(2, &Headers::default(), 0).await;
    let expected = Frame::RstStream {
        stream_id: 2,
        status: rst::PROTOCOL_ERROR,
    };
    assert_eq!(client.next().await, expected);
}

#[tokio::test]
async fn consumed_data_returns_window() {
    let (mut connection, mut client) = start();
    client.open(1, &Headers::default(), 0).await;
    let mut stream = accept(&mut connection).await;
    client.next().await;
    let chunk = vec![b'x'; 16 * 1024];
    for _ in 0..2 {
        client
            .send(Frame::Data {
                stream_id: 1,
                flags: 0,
                data: Bytes::from(chunk.clone()),
            })
            .await;
        stream.reader.recv().await.expect("chunk");
    }
    let mut updates = vec![client.next().await, client.next().await];
    updates.sort_by_key(|frame| match frame {
        Frame::WindowUpdate { stream_id, .. } => *stream_id,
        _ => u32::MAX,
    });
    let session = Frame::WindowUpdate {
        stream_id: 0,
        delta: 32 * 1024,
    };
    let stream_update = Frame::WindowUpdate {
        stream_id: 1,
        delta: 32 * 1024,
    };
    assert_eq!(updates, [session, stream_update]);
}

#[tokio::test]
async fn send_waits_for_window_update() {
    let (mut connection, mut client) = start();
    client
        .send(Frame::Settings {
            entries: vec![(SETTINGS_INITIAL_WINDOW_SIZE, 10)],
        })
        .await;
    client
        .send(Frame::WindowUpdate {
            stream_id: 0,
            delta: 1,
        })
        .await;
    client.open(1, &Headers::default(), 0).await;
    let stream = accept(&mut connection).await;
    client.next().await;
    let writer = stream.writer.clone();
    let sending = tokio::spawn(async move { writer.send(&[b'y'; 25]).await });
    assert_eq!(client.next().await, data(1, 0, &[b'y'; 10]));
    client
        .send(Frame::WindowUpdate {
            stream_id: 1,
            delta: 15,
        })
        .await;
    assert_eq!(
        client.next_skipping_updates().await,
        data(1, 0, &[b'y'; 15])
    );
    sending.await.expect("task").expect("sent");
}

#[tokio::test]
async fn close_sends_goaway_and_ends_output() {
    let (mut connection, mut client) = start();
    client.open(1, &Headers::default(), 0).await;
    accept(&mut connection).await;
    client.next().await;
    connection.control().close().await;
    let expected = Frame::GoAway {
        last_good_stream_id: 1,
        status: 0,
    };
    assert_eq!(client.next().await, expected);
    let end = tokio::time::timeout(TIMEOUT, Frame::read(&mut client.reader))
        .await
        .expect("end in time")
        .expect("clean end");
    assert_eq!(end, None);
}

#[tokio::test]
async fn reset_stream_ends_reader_and_fails_writer() {
    let (mut connection, mut client) = start();
    client.open(1, &Headers::default(), 0).await;
    let mut stream = accept(&mut connection).await;
    client.next().await;
    client
        .send(Frame::RstStream {
            stream_id: 1,
            status: rst::CANCEL,
        })
        .await;
    assert_eq!(stream.reader.recv().await, None);
    assert!(stream.writer.send(b"late").await.is_err());
}

#[tokio::test]
async fn peer_disconnect_ends_accept() {
    let (mut connection, client) = start();
    drop(client);
    let next = tokio::time::timeout(TIMEOUT, connection.accept())
        .await
        .expect("in time");
    assert!(next.is_none());
}
