//! Plain HTTP GET used by probes and lifecycle hooks.

use http_body_util::Empty;

/// Sends a GET and returns the status code.
pub async fn get(host: &str, port: u16, path: &str) -> Option<u16> {
    get_with_headers(host, port, path, &[]).await
}

/// Sends a GET with extra headers and returns the status code.
pub async fn get_with_headers(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Option<u16> {
    let stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    let mut request = http::Request::get(path)
        .header("host", format!("{host}:{port}"))
        .header("user-agent", "kube-probe/1.33");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Empty::<bytes::Bytes>::new()).ok()?;
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}
