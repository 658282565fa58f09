//! Stand-in replica hosts for CDN experiments: a TCP listener per replica
//! that accepts, writes one line naming the replica, and closes. Health
//! checks connect to these; marking a replica `down` closes its listener.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Starts the listener for one replica.
pub async fn start(name: &str, addr: SocketAddr) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let line = format!("tern lab replica {name}\n");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let line = line.clone();
            tokio::spawn(async move {
                let _ = s.write_all(line.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    }))
}
