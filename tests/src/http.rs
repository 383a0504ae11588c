//! A bare HTTP/1.1 GET over a fresh connection, for the daemons' status
//! endpoints: the whole answer (head and body) as text, so a test can
//! check the status line and headers as well as the body.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` on `addr` with `Connection: close`; the raw answer.
pub async fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    http_get_accepting(addr, path, "*/*").await
}

/// [`http_get`] with `Accept: accept`.
pub async fn http_get_accepting(addr: &str, path: &str, accept: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}
