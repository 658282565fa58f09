//! The shared cache's store on a Redis server, through redis-rs on tokio:
//! one multiplexed connection, made on first use and made again after an
//! error (the breaker in `SharedCache` spaces the attempts out).

use std::sync::Mutex;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use super::{Store, StoreError, StoreFuture};
use crate::config::SharedCacheConfig;

pub struct RedisStore {
    client: Client,
    connect: AsyncConnectionConfig,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

impl RedisStore {
    pub fn new(config: &SharedCacheConfig) -> Result<Self, StoreError> {
        let (host, port) = config
            .server
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| failed(format!("{:?} is not host:port", config.server)))?;
        let addr = if config.tls {
            ConnectionAddr::TcpTls {
                host: host.to_string(),
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host.to_string(), port)
        };
        let info: ConnectionInfo = addr.into_connection_info().map_err(failed)?;
        // No CLIENT SETINFO after connecting: an ACL user may be allowed
        // GET and SET only (docs/farm.md).
        let mut redis = info.redis_settings().clone().set_skip_set_lib_name();
        if let Some(u) = &config.username {
            redis = redis.set_username(u);
        }
        if let Some(p) = &config.password {
            redis = redis.set_password(p);
        }
        let info = info.set_redis_settings(redis);
        let client = match (&config.tls, &config.tls_ca_file) {
            (true, Some(ca)) => {
                let pem =
                    std::fs::read(ca).map_err(|e| failed(format!("{}: {e}", ca.display())))?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                Client::build_with_tls(info, certs).map_err(failed)?
            }
            _ => Client::open(info).map_err(failed)?,
        };
        let connect = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.connect_timeout));
        Ok(Self {
            client,
            connect,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        match self.conn.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn put(&self, c: Option<MultiplexedConnection>) {
        match self.conn.lock() {
            Ok(mut g) => *g = c,
            Err(p) => *p.into_inner() = c,
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&self.connect)
            .await
            .map_err(failed)?;
        self.put(Some(c.clone()));
        Ok(c)
    }

    /// Runs one command; an error drops the connection.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StoreError> {
        let mut c = self.connection().await?;
        match cmd.query_async::<T>(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                self.put(None);
                Err(failed(e))
            }
        }
    }
}

impl Store for RedisStore {
    fn get(&self, key: String) -> StoreFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            self.run::<Option<Vec<u8>>>(cmd).await
        })
    }

    fn set(&self, key: String, value: Vec<u8>, ttl_secs: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value).arg("EX").arg(ttl_secs.max(1));
            self.run::<()>(cmd).await
        })
    }
}
