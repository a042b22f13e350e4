//! The real binary run as an operator runs it: a config file under flags
//! and environment, HTTPS with HTTP/2 and a certificate reloaded on
//! SIGHUP, a per-address stream limit, JSON logs.

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::Running;

const SECRET: &str = "production-test-secret-0123456789";

/// A folder of its own under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sse-hub-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

/// The binary with a clean environment of our variables.
fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HUB_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn check(cmd: &mut Command) -> Output {
    cmd.arg("--check-config").output().expect("binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `key` in `--check-config` output.
fn line_of<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` in {stdout}"))
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let dir = Scratch::new("precedence");
    let file = dir.file(
        "hub.toml",
        &format!(
            "jwt_secret = \"{SECRET}\"\nhistory_len = 11\nretry_ms = 22\nheartbeat_secs = 33\n\
             public_topics = [\"news\", \"weather.*\"]\n"
        ),
    );
    let out = check(
        binary()
            .arg("--config")
            .arg(&file)
            .args(["--heartbeat-secs", "3"])
            .env("HUB_RETRY_MS", "2")
            .env("HUB_HEARTBEAT_SECS", "4"),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        line_of(&stdout, "history_len"),
        "history_len = 11  # config file"
    );
    assert_eq!(
        line_of(&stdout, "retry_ms"),
        "retry_ms = 2  # environment HUB_RETRY_MS"
    );
    assert_eq!(
        line_of(&stdout, "heartbeat_secs"),
        "heartbeat_secs = 3  # --heartbeat-secs"
    );
    assert_eq!(
        line_of(&stdout, "public_topics"),
        "public_topics = [\"news\", \"weather.*\"]  # config file"
    );
    assert_eq!(
        line_of(&stdout, "max_connections"),
        "max_connections = 10000  # default"
    );
    // The secret is never printed, whichever source it came from.
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    assert!(line_of(&stdout, "jwt_secret").contains("<redacted>"));
    // The environment's turn: HUB_CONFIG names the file.
    let out = check(binary().env("HUB_CONFIG", &file));
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert_eq!(
        line_of(&stdout, "heartbeat_secs"),
        "heartbeat_secs = 33  # config file"
    );
}

#[test]
fn a_bad_config_file_names_the_key_and_the_file() {
    let dir = Scratch::new("bad-config");
    for (body, key) in [
        ("histroy_len = 5\n", "histroy_len"),
        ("history_len = \"many\"\n", "history_len"),
        ("demo = 1\n", "demo"),
    ] {
        let file = dir.file("bad.toml", body);
        let started = binary()
            .arg("--config")
            .arg(&file)
            .args(["--addr", "127.0.0.1:0"])
            .output()
            .unwrap();
        let (_, stderr) = text(&started);
        assert!(!started.status.success(), "{body}: started");
        assert!(
            stderr.contains(&format!("`{key}`")) && stderr.contains(&*file.to_string_lossy()),
            "{body}: {stderr}"
        );
        let out = check(binary().arg("--config").arg(&file));
        assert!(!out.status.success());
    }
    // A problem the file does not show by its types: exit 1, named.
    let file = dir.file("short.toml", "jwt_secret = \"short\"\n");
    let out = check(binary().arg("--config").arg(&file));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--jwt-secret must be at least 16 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("short\""));
}

/// Kubernetes injects `HUB_PORT=tcp://10.0.0.1:80` and friends for a
/// Service named `hub`: variables that are not ours never stop a start.
#[test]
fn variables_that_are_not_ours_are_ignored() {
    let out = check(
        binary()
            .env("HUB_PORT", "tcp://10.96.0.12:80")
            .env("HUB_PORT_80_TCP", "tcp://10.96.0.12:80")
            .env("HUB_PORT_80_TCP_ADDR", "10.96.0.12")
            .env("HUB_SERVICE_HOST", "10.96.0.12")
            .env("HUB_SERVICE_PORT", "80")
            .env("HUB_JWT_SECRET", SECRET),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
}

#[test]
fn a_bad_log_filter_stops_the_start() {
    let out = binary()
        .args(["--addr", "127.0.0.1:0", "--jwt-secret", SECRET])
        .env("RUST_LOG", "info,[")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}

/// Starts `cmd` on 127.0.0.1:0 with the tests' secret.
fn run(cmd: &mut Command) -> Running {
    support::run(cmd.args(["--addr", "127.0.0.1:0", "--jwt-secret", SECRET]))
}

fn token(user: &str, role: sse_hub::Role) -> String {
    let auth = sse_hub::Auth::hs256(SECRET.as_bytes());
    auth.issue(
        &sse_hub::UserId::new(user).unwrap(),
        role,
        Duration::from_secs(600),
    )
    .unwrap()
}

async fn open(client: &reqwest::Client, base: &str, user: &str) -> reqwest::Response {
    client
        .get(format!("{base}/api/sse/stream"))
        .bearer_auth(token(user, sse_hub::Role::User))
        .send()
        .await
        .unwrap()
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn one_address_gets_its_share_of_streams_and_others_are_unaffected() {
    let hub = run(binary().args(["--max-connections-per-ip", "2", "--log", "warn"]));
    let one = client_from("127.0.0.1");
    // Two users, so the per-user limit is not what refuses.
    let a = open(&one, &hub.base, "a").await;
    let b = open(&one, &hub.base, "b").await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let third = open(&one, &hub.base, "c").await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "too_many_address_connections", "{body}");
    // Another address connects.
    let other = open(&client_from("127.0.0.2"), &hub.base, "d").await;
    assert_eq!(other.status(), 200);
    // A closed stream gives its slot back.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = open(&one, &hub.base, "e").await;
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(b);
}

/// Behind a trusted proxy the address is the forwarded one; from anyone
/// else `X-Forwarded-For` is ignored.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let hub = run(binary().args([
        "--max-connections-per-ip",
        "1",
        "--trusted-proxies",
        "127.0.0.3",
        "--log",
        "warn",
    ]));
    let proxy = client_from("127.0.0.3");
    let via = |ip: &'static str, user: &'static str| {
        proxy
            .get(format!("{}/api/sse/stream", hub.base))
            .bearer_auth(token(user, sse_hub::Role::User))
            .header("x-forwarded-for", ip)
            .send()
    };
    let first = via("198.51.100.1", "a").await.unwrap();
    let second = via("198.51.100.2", "b").await.unwrap();
    let again = via("198.51.100.1", "c").await.unwrap();
    assert_eq!(
        (
            first.status().as_u16(),
            second.status().as_u16(),
            again.status().as_u16()
        ),
        (200, 200, 429)
    );
    // A client that is not a proxy cannot pick its address.
    let liar = client_from("127.0.0.4");
    // The streams stay open (a dropped one gives its slot back).
    let mut held = Vec::new();
    for (i, forged) in ["203.0.113.1", "203.0.113.2"].iter().enumerate() {
        let res = liar
            .get(format!("{}/api/sse/stream", hub.base))
            .bearer_auth(token(&format!("liar{i}"), sse_hub::Role::User))
            .header("x-forwarded-for", *forged)
            .send()
            .await
            .unwrap();
        held.push(res);
    }
    let statuses: Vec<u16> = held.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 429]);
}

/// With `--log-format json` every line on stderr, and the ready line on
/// stdout, is one JSON object with a timestamp, a level and a target.
#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let dir = Scratch::new("json-log");
    let log = std::fs::File::create(dir.0.join("log")).unwrap();
    let mut hub = run(binary()
        .args([
            "--log-format",
            "json",
            "--log",
            "debug",
            "--public-topics",
            "news",
        ])
        .stderr(Stdio::from(log)));
    // stdout too: the ready line is an object in the logs' shape.
    let ready: Value = serde_json::from_str(&hub.ready_line)
        .unwrap_or_else(|e| panic!("the ready line is not JSON ({e}): {}", hub.ready_line));
    for field in ["timestamp", "level", "target", "url"] {
        assert!(ready.get(field).is_some(), "no {field}: {ready}");
    }
    let client = reqwest::Client::new();
    let res = open(&client, &hub.base, "json-user").await;
    assert_eq!(res.status(), 200);
    let publisher = token("pub", sse_hub::Role::Publisher);
    let published = client
        .post(format!("{}/api/sse/publish", hub.base))
        .bearer_auth(&publisher)
        .json(&json!({"event": "tick", "data": 1, "target": {"user": "json-user"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    drop(res);
    let _ = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status();
    let _ = hub.child.wait();
    let text = std::fs::read_to_string(dir.0.join("log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(v.get(field).is_some(), "no {field}: {line}");
        }
        assert!(!line.contains(&publisher), "a token in the log: {line}");
    }
    assert!(text.contains("shutdown requested"), "{text}");
}

/// A self-signed certificate for `localhost`, as PEM files.
fn certificate(dir: &Scratch, name: &str) -> (PathBuf, PathBuf, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let cert_path = dir.file(&format!("{name}.pem"), &pem);
    let key_path = dir.file(
        &format!("{name}-key.pem"),
        &cert.signing_key.serialize_pem(),
    );
    (cert_path, key_path, pem)
}

/// The binary serving HTTPS with `cert` and `key`, and `args`.
fn run_tls(cert: &Path, key: &Path, args: &[&str]) -> Running {
    run(binary()
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(args))
}

fn tls_client(trusted_pem: &str, http1: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(trusted_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10));
    let builder = if http1 { builder.http1_only() } else { builder };
    builder.build().unwrap()
}

fn https(base: &str) -> String {
    base.replace("http://127.0.0.1", "https://localhost")
        .replace("https://127.0.0.1", "https://localhost")
}

async fn event_over(client: &reqwest::Client, base: &str, version: reqwest::Version) {
    let user = format!("tls-{version:?}");
    let res = client
        .get(format!("{base}/api/sse/stream"))
        .bearer_auth(token(&user, sse_hub::Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), version);
    let mut events = res.bytes_stream().eventsource();
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.event, "connected");
    let published = client
        .post(format!("{base}/api/sse/publish"))
        .bearer_auth(token("publisher", sse_hub::Role::Publisher))
        .json(&json!({"event": "over-tls", "data": {"v": 1}, "target": {"user": user}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        published.status(),
        200,
        "{}",
        published.text().await.unwrap()
    );
    let next = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(next.event, "over-tls");
}

fn sighup(child: &Child) {
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

async fn served_by(pem: &str, base: &str) -> bool {
    tls_client(pem, false)
        .get(format!("{base}/api/health"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test]
async fn https_serves_streams_over_h2_and_h1_and_reloads_its_certificate() {
    let dir = Scratch::new("tls");
    let (cert, key, first_pem) = certificate(&dir, "first");
    let hub = run_tls(&cert, &key, &["--log", "warn"]);
    assert!(hub.base.starts_with("https://"), "{}", hub.base);
    let base = https(&hub.base);
    event_over(
        &tls_client(&first_pem, false),
        &base,
        reqwest::Version::HTTP_2,
    )
    .await;
    event_over(
        &tls_client(&first_pem, true),
        &base,
        reqwest::Version::HTTP_11,
    )
    .await;

    // A stream opened before the reload lives on after it.
    let before = tls_client(&first_pem, false)
        .get(format!("{base}/api/sse/stream"))
        .bearer_auth(token("before", sse_hub::Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);

    // SIGHUP with a new pair in place: new handshakes present it.
    let (next_cert, next_key, next_pem) = certificate(&dir, "next");
    std::fs::copy(&next_cert, &cert).unwrap();
    std::fs::copy(&next_key, &key).unwrap();
    sighup(&hub.child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !served_by(&next_pem, &base).await {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!served_by(&first_pem, &base).await);
    let mut events = before.bytes_stream().eventsource();
    assert_eq!(events.next().await.unwrap().unwrap().event, "connected");

    // SIGHUP with a broken file: the served pair stays, the server too.
    std::fs::write(&cert, "not a certificate").unwrap();
    sighup(&hub.child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(served_by(&next_pem, &base).await);
    event_over(
        &tls_client(&next_pem, false),
        &base,
        reqwest::Version::HTTP_2,
    )
    .await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_closed_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = Scratch::new("tls-plain");
    let (cert, key, _) = certificate(&dir, "c");
    let hub = run_tls(
        &cert,
        &key,
        &["--log", "warn", "--request-timeout-secs", "30"],
    );
    let addr = hub.base.trim_start_matches("https://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "held for {:?}", started.elapsed());
    // A connection that says nothing at all is closed after the deadline
    // (here 30 s, so not waited for); the handshake deadline is tested with
    // a short one.
    drop(hub);
    let hub = run_tls(
        &cert,
        &key,
        &["--log", "warn", "--request-timeout-secs", "1"],
    );
    let addr = hub.base.trim_start_matches("https://").to_string();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection was held"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// A site with one file and its precompressed twins, served by a binary
/// that believes its build hashed file names (a `hash.txt` beside it: a
/// hard link of the binary in a folder of its own) or not.
#[tokio::test]
async fn dashboard_files_are_sent_precompressed_and_cached_by_name() {
    let dir = Scratch::new("site");
    let pkg = dir.0.join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let name = "sse-hub.Q2hlY2tIYXNo.wasm";
    let raw = b"\0asm raw bytes".repeat(100);
    std::fs::write(pkg.join(name), &raw).unwrap();
    std::fs::write(pkg.join(format!("{name}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{name}.gz")), b"gzip bytes").unwrap();
    let bin = dir.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::hard_link(env!("CARGO_BIN_EXE_server"), bin.join("server")).unwrap();
    std::fs::write(
        bin.join("hash.txt"),
        "js: SnNIYXNo\nwasm: Q2hlY2tIYXNo\ncss: Q3NzSGFzaA\n",
    )
    .unwrap();
    let site = dir.0.join("site");
    let hashed = run(Command::new(bin.join("server"))
        .arg("--site-root")
        .arg(&site)
        .args(["--log", "warn"]));
    let client = reqwest::Client::new();
    let get = |base: &str, enc: &'static str| {
        client
            .get(format!("{base}/pkg/{name}"))
            .header("accept-encoding", enc)
            .send()
    };
    for (enc, want_encoding, want_body) in [
        ("br, gzip", Some("br"), &b"brotli bytes"[..]),
        ("gzip", Some("gzip"), &b"gzip bytes"[..]),
        ("identity", None, &raw[..]),
    ] {
        let res = get(&hashed.base, enc).await.unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers().clone();
        assert_eq!(
            h.get("content-encoding").map(|v| v.to_str().unwrap()),
            want_encoding,
            "{enc}"
        );
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(h["vary"], "accept-encoding");
        assert_eq!(h["content-type"], "application/wasm");
        assert_eq!(&res.bytes().await.unwrap()[..], want_body);
    }
    // The page names the hashed files and is revalidated every time.
    let page = client
        .get(format!("{}/sse-demo", hashed.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    for file in [
        "/pkg/sse-hub.SnNIYXNo.js",
        "/pkg/sse-hub.Q2hlY2tIYXNo.wasm",
        "/pkg/sse-hub.Q3NzSGFzaA.css",
    ] {
        assert!(html.contains(file), "{file} not in the page");
    }
    // A build without hashes: the same names are revalidated.
    let plain = run(binary()
        .arg("--site-root")
        .arg(&site)
        .args(["--log", "warn"]));
    let res = get(&plain.base, "br").await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["content-encoding"], "br");
}

/// Traces reach a local OTLP/HTTP receiver: spans of a stream open, a
/// publish and a resume, with ids and counts, never a token or a payload.
// Several threads: the receiver must answer while the test waits for the
// hub to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_at_an_otlp_receiver() {
    use std::sync::{Arc, Mutex};
    /// Each export's content type and body.
    type Exports = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Exports = Arc::default();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post({
            let received = received.clone();
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                received.lock().unwrap().push((kind, body.to_vec()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut hub = run(binary()
        .args(["--log", "warn", "--otlp-endpoint", &collector])
        .args(["--otlp-sample-ratio", "1.0"]));
    let client = reqwest::Client::new();
    let user_token = token("traced", sse_hub::Role::User);
    let stream = client
        .get(format!("{}/api/sse/stream", hub.base))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let publisher = token("pub", sse_hub::Role::Publisher);
    let payload = "secret-payload-that-must-not-be-traced";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res: Value = client
            .post(format!("{}/api/sse/publish", hub.base))
            .bearer_auth(&publisher)
            .json(&json!({"event": "traced", "data": {"p": payload}, "target": {"user": "traced"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(res["id"].as_str().unwrap().to_string());
    }
    let resumed = client
        .get(format!("{}/api/sse/stream", hub.base))
        .bearer_auth(&user_token)
        .header("last-event-id", &ids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    drop((stream, resumed));
    // Stopping flushes the last batch.
    let _ = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status();
    let status = hub.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "no trace export arrived");
    let all: Vec<u8> = received.iter().flat_map(|(_, b)| b.clone()).collect();
    let has = |s: &str| all.windows(s.len()).any(|w| w == s.as_bytes());
    for (kind, _) in received.iter() {
        assert_eq!(kind, "application/x-protobuf");
    }
    for name in [
        "stream.open",
        "publish",
        "resume",
        "event.id",
        "delivered",
        "replayed",
        "sse-hub",
    ] {
        assert!(has(name), "no {name:?} in the exported spans");
    }
    assert!(has(&ids[1]), "the event id is not in the spans");
    for secret in [user_token.as_str(), publisher.as_str(), payload, SECRET] {
        assert!(!has(secret), "a secret or payload was exported");
    }
}

/// The app the binary serves, built and served in-process on port 0 from
/// the same configuration type, without spawning the binary.
#[tokio::test]
async fn the_app_serves_in_process_from_a_config() {
    use clap::Parser;
    let cfg = server::config::Config::try_parse_from([
        "server",
        "--jwt-secret",
        SECRET,
        "--history-len",
        "5",
    ])
    .unwrap();
    let served = server::app(&cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hub = served.hub.clone();
    tokio::spawn(sse_hub::net::serve(
        listener,
        served.router,
        Default::default(),
        std::future::pending(),
    ));
    assert_eq!(hub.config().history_len, 5);
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{base}/api/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // No demo routes unless asked for.
    let demo = client
        .post(format!("{base}/api/auth/demo-token"))
        .json(&json!({"userId": "x", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demo.status(), 404);
    event_over(&client, &base, reqwest::Version::HTTP_11).await;
    hub.shutdown();
}

/// Over TLS too, a request must arrive whole in time: a body that stops
/// half way gets 408 with a JSON error after `--request-timeout-secs`.
#[tokio::test]
async fn a_request_body_that_stalls_over_tls_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = Scratch::new("tls-408");
    let (cert, key, pem) = certificate(&dir, "c");
    let hub = run_tls(
        &cert,
        &key,
        &["--log", "warn", "--request-timeout-secs", "1"],
    );
    let addr = hub.base.trim_start_matches("https://").to_string();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let der = tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes());
    roots.add(der.unwrap()).unwrap();
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let publisher = token("pub", sse_hub::Role::Publisher);
    let head = format!(
        "POST /api/sse/publish HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {publisher}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"event\":"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("request_timeout") {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
