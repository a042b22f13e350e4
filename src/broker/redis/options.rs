//! How to reach Redis: a URL for one server (`redis://`, `rediss://`) or
//! for the sentinels that know the current primary (`redis+sentinel://`,
//! `rediss+sentinel://`), TLS material, and what a publish waits for.

use std::time::Duration;

use redis::Client;

use crate::error::HubError;

/// Settings of the Redis broker.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[user:pass@]host:port/db`, `rediss://…` for TLS, or
    /// `redis+sentinel://[user:pass@]host:port[,host:port…][/db]?sentinel_master_name=NAME`
    /// (`rediss+sentinel://` for TLS to the sentinels and the primary).
    /// With sentinels, the user and password are the primary's; the
    /// sentinels' own come from `sentinel_username` / `sentinel_password`
    /// query parameters.
    pub url: String,
    /// Key prefix, so several hubs can share one Redis.
    pub prefix: String,
    /// TLS: the PEM certificate(s) of the CA that signed the server's
    /// certificate. `None`: the system's trust store.
    pub tls_ca_cert: Option<Vec<u8>>,
    /// TLS: a PEM client certificate and key, for servers that ask for
    /// one (`tls-auth-clients yes`).
    pub tls_client: Option<(Vec<u8>, Vec<u8>)>,
    /// A publish succeeds only once this many replicas hold it (Redis
    /// `WAIT`); 0: once the primary does.
    pub wait_replicas: u32,
    /// How long a publish waits for those replicas before failing.
    pub wait_timeout: Duration,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("tls_ca_cert", &self.tls_ca_cert.as_ref().map(|_| "<pem>"))
            .field(
                "tls_client",
                &self.tls_client.as_ref().map(|_| "<redacted>"),
            )
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}

/// `url` with its password (user info and `sentinel_password`) hidden.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let rest = match rest.split_once('@') {
        Some((_, host)) => format!("<redacted>@{host}"),
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.contains("password") => format!("{k}=<redacted>"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

impl RedisOptions {
    /// Options for `url` with the default prefix `sse`, no replica wait.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "sse".into(),
            tls_ca_cert: None,
            tls_client: None,
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(1000),
        }
    }

    /// Where the primary is: parsed and checked here, before any connection.
    pub(super) fn endpoint(&self) -> Result<Endpoint, HubError> {
        let bad = |e: &dyn std::fmt::Display| HubError::invalid("broker url", &e.to_string());
        let (scheme, rest) = self
            .url
            .split_once("://")
            .ok_or_else(|| bad(&"must start with redis://, rediss:// or redis+sentinel://"))?;
        let (tls, sentinel) = match scheme {
            "redis" => (false, false),
            "rediss" => (true, false),
            "redis+sentinel" => (false, true),
            "rediss+sentinel" => (true, true),
            _ => {
                return Err(bad(&format!(
                    "unknown scheme {scheme}:// (redis, rediss, redis+sentinel, rediss+sentinel)"
                )))
            }
        };
        if (self.tls_ca_cert.is_some() || self.tls_client.is_some()) && !tls {
            return Err(bad(&"TLS certificates need a rediss:// URL"));
        }
        if tls {
            // rustls needs a process-wide crypto provider; another part of
            // the program may have installed one already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        if !sentinel {
            return Ok(Endpoint::Direct(self.client(&self.url)?));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (format!("{auth}@"), hosts),
            None => (String::new(), rest),
        };
        let (hosts, db) = rest.split_once('/').unwrap_or((rest, "0"));
        let db = if db.is_empty() { "0" } else { db };
        let (mut master, mut user, mut password) = (None, None, None);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "sentinel_master_name" => master = Some(v.into_owned()),
                "sentinel_username" => user = Some(v.into_owned()),
                "sentinel_password" => password = Some(v.into_owned()),
                other => return Err(bad(&format!("unknown query parameter {other:?}"))),
            }
        }
        let master = master.ok_or_else(|| bad(&"sentinel URLs need ?sentinel_master_name=NAME"))?;
        let sentinel_auth = match (user, password) {
            (u, Some(p)) => format!("{}:{}@", encode(u.as_deref().unwrap_or("")), encode(&p)),
            (Some(u), None) => format!("{}@", encode(&u)),
            (None, None) => String::new(),
        };
        let plain = if tls { "rediss" } else { "redis" };
        let sentinels = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| {
                let client = self.client(&format!("{plain}://{sentinel_auth}{h}"))?;
                Ok((h.to_string(), client))
            })
            .collect::<Result<Vec<_>, HubError>>()?;
        if sentinels.is_empty() {
            return Err(bad(&"no sentinel host:port given"));
        }
        Ok(Endpoint::Sentinel(SentinelEndpoint {
            sentinels,
            master,
            primary_url: Box::new({
                let template = format!("{plain}://{auth}");
                let options = self.clone();
                let db = db.to_string();
                move |host: &str, port: u16| {
                    options.client(&format!("{template}{host}:{port}/{db}"))
                }
            }),
        }))
    }

    /// A client for one server's URL, with this configuration's TLS.
    fn client(&self, url: &str) -> Result<Client, HubError> {
        let bad = |e: &dyn std::fmt::Display| HubError::invalid("broker url", &e.to_string());
        if self.tls_ca_cert.is_none() && self.tls_client.is_none() {
            return Client::open(url).map_err(|e| bad(&e));
        }
        let certs = redis::TlsCertificates {
            client_tls: self
                .tls_client
                .clone()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert,
                    client_key: key,
                }),
            root_cert: self.tls_ca_cert.clone(),
        };
        Client::build_with_tls(url, certs).map_err(|e| bad(&e))
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Where the primary is found.
pub(super) enum Endpoint {
    /// One server, always the same.
    Direct(Client),
    /// Whichever server the sentinels name as the primary.
    Sentinel(SentinelEndpoint),
}

/// The sentinels, the name of the primary they watch, and how to make a
/// client for the address they name.
pub(super) struct SentinelEndpoint {
    /// `host:port` and a client for each sentinel, asked in turn.
    pub(super) sentinels: Vec<(String, Client)>,
    /// `sentinel_master_name`.
    pub(super) master: String,
    /// A client for the primary at `host:port`, with the URL's user,
    /// password, database and TLS.
    pub(super) primary_url: PrimaryClient,
}

/// Makes a client for the primary at a host and port.
pub(super) type PrimaryClient = Box<dyn Fn(&str, u16) -> Result<Client, HubError> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_are_read_and_checked() {
        let o = RedisOptions::new(
            "redis+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/3?sentinel_master_name=main&sentinel_password=s3",
        );
        let Ok(Endpoint::Sentinel(s)) = o.endpoint() else {
            panic!("a sentinel endpoint")
        };
        assert_eq!(s.master, "main");
        assert_eq!(s.sentinels.len(), 2);
        assert_eq!(s.sentinels[1].0, "127.0.0.1:2");
        let info = (s.primary_url)("10.0.0.1", 7000)
            .unwrap()
            .get_connection_info()
            .clone();
        assert_eq!(info.redis_settings().db(), 3);
        assert_eq!(info.redis_settings().password(), Some("pw"));
        for bad in [
            "redis+sentinel://127.0.0.1:1",
            "redis+sentinel://127.0.0.1:1?sentinel_master_name=m&what=1",
            "redis+sentinel://?sentinel_master_name=m",
            "memcached://127.0.0.1:1",
        ] {
            assert!(RedisOptions::new(bad).endpoint().is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        let o = RedisOptions::new(
            "redis+sentinel://u:hunter2@h:1?sentinel_master_name=m&sentinel_password=topsecret",
        );
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
        assert!(shown.contains("sentinel_master_name=m"), "{shown}");
    }
}
