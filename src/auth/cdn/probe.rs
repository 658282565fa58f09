//! Network probes for CDN policies: a TCP connect with a timeout, and a
//! minimal HTTP/1.0 GET (RFC 1945 §5, §6) to a literal `http://IP:PORT/path`
//! URL, for health checks and load endpoints. Bounded in time and size.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest HTTP response read (a load table or a health page is small).
const MAX_RESPONSE: usize = 64 * 1024;

/// A parsed `http://IP:PORT/path` URL (addresses only: the lab has no DNS
/// of its own to lean on here).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpUrl {
    pub addr: SocketAddr,
    pub path: String,
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.addr, self.path)
    }
}

pub fn parse_url(s: &str) -> Result<HttpUrl, String> {
    let rest = s
        .strip_prefix("http://")
        .ok_or_else(|| format!("{s}: only http:// URLs are supported"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    let addr = host
        .parse::<SocketAddr>()
        .map_err(|_| format!("{s}: the host must be IP:PORT"))?;
    Ok(HttpUrl {
        addr,
        path: path.to_string(),
    })
}

/// True when a TCP connection opens within `timeout`; with the elapsed time.
pub async fn tcp_connect(addr: SocketAddr, timeout: Duration) -> (bool, Duration) {
    let start = Instant::now();
    let ok = matches!(
        tokio::time::timeout(timeout, TcpStream::connect(addr)).await,
        Ok(Ok(_))
    );
    (ok, start.elapsed())
}

/// GETs `url`; the status code and body, or why not.
pub async fn http_get(url: &HttpUrl, timeout: Duration) -> Result<(u16, String), String> {
    tokio::time::timeout(timeout, get(url))
        .await
        .map_err(|_| format!("{url}: timed out"))?
}

async fn get(url: &HttpUrl) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(url.addr)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: tern\r\n\r\n",
        url.path, url.addr
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() > MAX_RESPONSE {
            return Err(format!("{url}: response larger than {MAX_RESPONSE} bytes"));
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}: not an HTTP response"))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/load").ok();
        assert_eq!(
            u,
            Some(HttpUrl {
                addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
                path: "/load".into()
            })
        );
        assert_eq!(
            parse_url("http://127.0.0.1:80").map(|u| u.path).ok(),
            Some("/".into())
        );
        assert!(parse_url("https://127.0.0.1:80/").is_err());
        assert!(parse_url("http://example.com/").is_err());
    }
}
