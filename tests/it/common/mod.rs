//! Test harness: a real hub behind a real HTTP server on 127.0.0.1:0, and a
//! real SSE client (reqwest + the `eventsource-stream` parser, which follows
//! the WHATWG spec independently of our encoder).

pub mod bus;

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::FutureExt;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use sse_hub::{Auth, ClaimsPolicy, Hub, HubConfig, Role, TopicPattern, UserId};

pub const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!";

pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: Hub,
    pub auth: Auth,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn server() -> TestServer {
    server_with(HubConfig::default()).await
}

pub fn test_auth() -> Auth {
    Auth::hs256(SECRET).with_demo_tokens(true, Duration::from_secs(600))
}

/// A hub where every signed-in user may subscribe to every topic: the
/// routing tests subscribe freely; `topics` tests the topic
/// policy itself, starting from the binary's default (no public topics).
pub fn open_hub(config: HubConfig) -> Hub {
    Hub::builder(config)
        .topic_authorizer(open_topics())
        .build()
        .now_or_never()
        .expect("the memory broker starts at once")
        .unwrap()
}

/// Every topic public.
pub fn open_topics() -> ClaimsPolicy {
    ClaimsPolicy::new().with_public_topics(vec![TopicPattern::parse("*").unwrap()])
}

/// A node with `config` on the Redis at `url` (every topic public).
pub async fn redis_node(url: &str, config: HubConfig) -> TestServer {
    redis_node_with(sse_hub::broker::RedisOptions::new(url), config).await
}

/// A node on Redis with these connection options (Sentinel, a replica
/// wait, TLS files) and open topics.
pub async fn redis_node_with(
    options: sse_hub::broker::RedisOptions,
    config: HubConfig,
) -> TestServer {
    let hub = Hub::builder(config)
        .topic_authorizer(open_topics())
        .broker(sse_hub::BrokerConfig::Redis(options))
        .build()
        .await
        .expect("hub joins through redis");
    serve(hub, test_auth()).await
}

pub async fn server_with(config: HubConfig) -> TestServer {
    let auth = test_auth();
    serve(open_hub(config), auth).await
}

/// A server with the demo routes mounted, as the binary has in demo mode.
pub async fn demo_server() -> TestServer {
    let auth = test_auth();
    let hub = open_hub(HubConfig::default());
    let api = sse_hub::Api::new(hub.clone(), auth.clone());
    let app = api.router().merge(api.demo_router(Default::default()));
    spawn_app(hub, auth, app, |listener, app| {
        sse_hub::net::serve(listener, app, Default::default(), std::future::pending())
    })
    .await
}

/// Serves `hub` on 127.0.0.1:0 with `sse_hub::net::serve`.
pub async fn serve(hub: Hub, auth: Auth) -> TestServer {
    let options = sse_hub::net::ServeOptions {
        write_stall: Duration::from_secs(2),
        ..Default::default()
    };
    serve_with_options(hub, auth, options).await
}

/// Serves `hub` the way a library user with their own axum app would:
/// `axum::serve` over a listener wrapped in `net::StallGuardListener`.
pub async fn serve_axum(hub: Hub, auth: Auth) -> TestServer {
    spawn_server(hub, auth, |listener, app| async move {
        let listener = sse_hub::net::StallGuardListener::new(listener, Duration::from_secs(2));
        axum::serve(listener, app).await.unwrap();
    })
    .await
}

/// Serves `hub` on 127.0.0.1:0 with these options.
pub async fn serve_with_options(
    hub: Hub,
    auth: Auth,
    options: sse_hub::net::ServeOptions,
) -> TestServer {
    spawn_server(hub, auth, |listener, app| {
        sse_hub::net::serve(listener, app, options, std::future::pending())
    })
    .await
}

/// Binds 127.0.0.1:0 and runs `serve` on it with the hub's router.
async fn spawn_server<F, S>(hub: Hub, auth: Auth, serve: S) -> TestServer
where
    S: FnOnce(tokio::net::TcpListener, axum::Router) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let app = sse_hub::router(hub.clone(), auth.clone());
    spawn_app(hub, auth, app, serve).await
}

/// Binds 127.0.0.1:0 and runs `serve` on it with `app`.
pub async fn spawn_app<F, S>(hub: Hub, auth: Auth, app: axum::Router, serve: S) -> TestServer
where
    S: FnOnce(tokio::net::TcpListener, axum::Router) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(serve(listener, app));
    TestServer {
        addr,
        hub,
        auth,
        http: reqwest::Client::new(),
        task,
    }
}

impl TestServer {
    /// Waits (up to 5 s) until the hub holds `n` connections.
    pub async fn wait_for_connections(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.hub.connection_count() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} connections, hub holds {}",
                self.hub.connection_count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn token(&self, user: &str, role: Role) -> String {
        self.auth
            .issue(&UserId::new(user).unwrap(), role, Duration::from_secs(600))
            .unwrap()
    }

    /// A token with a `topics` claim and a `meta` claim.
    pub fn token_with(
        &self,
        user: &str,
        role: Role,
        topics: Option<sse_hub::auth::TopicGrants>,
        meta: &[(&str, &str)],
    ) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.auth
            .sign(&sse_hub::auth::Claims {
                sub: user.into(),
                role: Some(role),
                exp: now + 600,
                iat: Some(now),
                nbf: None,
                topics,
                meta: (!meta.is_empty()).then(|| {
                    meta.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
            })
            .unwrap()
    }

    /// Opens a stream with `?query` (token added) and reads until `connected`.
    pub async fn connect(&self, user: &str, role: Role, query: &str) -> SseClient {
        let token = self.token(user, role);
        let url = self.url(&format!("/api/sse/stream?token={token}&{query}"));
        SseClient::open(&self.http, &url, None)
            .await
            .expect("stream should open")
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/health`'s body (no token needed).
    pub async fn health(&self) -> Value {
        let res = self.http.get(self.url("/api/health")).send().await.unwrap();
        res.json().await.unwrap()
    }

    /// `GET /metrics`'s text (no token needed).
    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    pub async fn publish(&self, event: &str, data: Value, target: Value) -> Value {
        let admin = self.token("publisher-bot", Role::Publisher);
        let (status, body) = self
            .post(
                "/api/sse/publish",
                &admin,
                serde_json::json!({"event": event, "data": data, "target": target}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "publish failed: {body}");
        body
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

pub struct SseClient {
    events: Events,
    pub headers: reqwest::header::HeaderMap,
    pub connected: Value,
    pub first_retry: Option<Duration>,
}

impl std::fmt::Debug for SseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseClient")
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

impl SseClient {
    /// Opens `url`; Err carries the status and JSON body of a refusal.
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseClient, (StatusCode, Value)> {
        Self::open_request(http.get(url), last_event_id).await
    }

    /// [`SseClient::open`] with the token in `Authorization: Bearer`.
    pub async fn open_with_token(
        http: &reqwest::Client,
        url: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseClient, (StatusCode, Value)> {
        Self::open_request(http.get(url).bearer_auth(token), last_event_id).await
    }

    /// Opens `req` (headers as the caller set them: a cookie, say).
    pub async fn open_request(
        mut req: reqwest::RequestBuilder,
        last_event_id: Option<&str>,
    ) -> Result<SseClient, (StatusCode, Value)> {
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = req.send().await.unwrap();
        if res.status() != StatusCode::OK {
            let status = res.status();
            return Err((status, res.json().await.unwrap_or(Value::Null)));
        }
        Ok(Self::from_response(res).await)
    }

    /// The stream of an answer that was 200, read until `connected`.
    pub async fn from_response(res: reqwest::Response) -> SseClient {
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        let mut events: Events = Box::pin(res.bytes_stream().eventsource());
        let first = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("connected event in time")
            .expect("stream not empty")
            .expect("valid SSE");
        assert_eq!(first.event, "connected", "first event must be `connected`");
        let first_retry = first.retry;
        let connected: Value = serde_json::from_str(&first.data).unwrap();
        assert_eq!(connected["lastEventId"].as_str(), Some(first.id.as_str()));
        SseClient {
            events,
            headers,
            connected,
            first_retry,
        }
    }

    pub fn connection_id(&self) -> String {
        self.connected["connectionId"].as_str().unwrap().to_string()
    }

    /// The next event, or None if the stream ended; panics after `secs`.
    pub async fn next_within(&mut self, secs: u64) -> Option<Event> {
        match tokio::time::timeout(Duration::from_secs(secs), self.events.next()).await {
            Ok(Some(Ok(e))) => Some(e),
            Ok(Some(Err(e))) => panic!("stream error: {e}"),
            Ok(None) => None,
            Err(_) => panic!("no event within {secs}s"),
        }
    }

    pub async fn next(&mut self) -> Event {
        self.next_within(5).await.expect("stream ended early")
    }

    /// Asserts that no event arrives for `ms` milliseconds.
    pub async fn expect_silence(&mut self, ms: u64) {
        if let Ok(Some(e)) =
            tokio::time::timeout(Duration::from_millis(ms), self.events.next()).await
        {
            panic!("expected no event, got {e:?}");
        }
    }

    /// True if the stream ends (cleanly or not) within `secs`.
    pub async fn ends_within(&mut self, secs: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.events.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// Serves `app` with plain `axum::serve` on 127.0.0.1:0 (webhook
/// receivers, routers outside the hub's own front); its address.
pub async fn listen(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// What came back on a raw socket, and whether the server closed it.
pub struct RawReply {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

impl RawReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Sends `request` as raw bytes on a new connection (then half-closes it,
/// if asked) and reads until `enough` says so or the server closes the
/// connection, at most 5 s.
pub async fn raw_exchange(
    addr: SocketAddr,
    request: &[u8],
    half_close: bool,
    enough: impl Fn(&[u8]) -> bool,
) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    if half_close {
        sock.shutdown().await.unwrap();
    }
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return RawReply {
                    bytes,
                    closed: true,
                }
            }
            Ok(Ok(n)) => {
                bytes.extend_from_slice(&buf[..n]);
                if enough(&bytes) {
                    return RawReply {
                        bytes,
                        closed: false,
                    };
                }
            }
            Err(_) => {
                return RawReply {
                    bytes,
                    closed: false,
                }
            }
        }
    }
}

/// Reads from `sock` into `buf` until `needle` has arrived (false: the
/// connection ended, or 5 s passed, first).
pub async fn read_until<S>(sock: &mut S, buf: &mut Vec<u8>, needle: &[u8]) -> bool
where
    S: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !buf.windows(needle.len()).any(|w| w == needle) {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    true
}

/// Sends a stream request on `sock` (plain or TLS) and reads until its
/// `connected` event; returns every byte read so far.
pub async fn request_stream<S>(sock: &mut S, request: &str) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    sock.write_all(request.as_bytes()).await.unwrap();
    sock.flush().await.unwrap();
    let mut raw = Vec::new();
    assert!(
        read_until(sock, &mut raw, b"event: connected").await,
        "no `connected` event: {}",
        String::from_utf8_lossy(&raw)
    );
    raw
}
