//! Stand-in replica hosts for CDN experiments: a TCP listener per replica.
//! A bare connect (the TCP health check) is accepted and closed; an HTTP
//! GET (the HTTP health check, RFC 1945) gets `200 OK` naming the replica.
//! Marking a replica `down` in lab.toml closes its listener.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest request read from a client.
const MAX_REQUEST: usize = 4096;
/// How long a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the listener for one replica.
pub async fn start(name: &str, addr: SocketAddr) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let name = name.to_string();
    Ok(tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, serve(s, &name)).await;
            });
        }
    }))
}

async fn serve(mut s: TcpStream, name: &str) -> std::io::Result<()> {
    let mut req = Vec::new();
    let mut chunk = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let body = format!("tern lab replica {name}\n");
    let reply = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(reply.as_bytes()).await?;
    s.shutdown().await
}
