//! The real binary: started on 127.0.0.1:0, it must serve the SSR dashboard,
//! mint a demo token, stream live events to a real SSE client, and on
//! SIGTERM end the stream with a `shutdown` event and exit cleanly.

use sse_testkit::redis_server;
mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::Running;

struct Server {
    running: Running,
    /// What the server printed after its "ready" line (demo mode's warning).
    notice: String,
}

fn start() -> Server {
    start_with(&["--demo", "true", "--demo-tick-ms", "100"])
}

/// Starts the binary on 127.0.0.1:0 with `args`; reads its "ready" line
/// and, in demo mode, the notice after it.
fn start_with(args: &[&str]) -> Server {
    let mut running = support::run(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--log", "warn"])
            .args(args)
            .env_remove("HUB_DEMO")
            .env_remove("HUB_JWT_SECRET")
            .stderr(Stdio::inherit()),
    );
    let mut notice = String::new();
    if args.contains(&"--demo") {
        running.stdout.read_line(&mut notice).unwrap();
    }
    Server { running, notice }
}

#[tokio::test]
async fn binary_serves_dashboard_and_live_stream_then_shuts_down_gracefully() {
    let mut server = start();
    assert!(
        server.notice.contains("demo mode is ON"),
        "demo mode must say so: {:?}",
        server.notice
    );
    let http = reqwest::Client::new();

    let page = http
        .get(format!("{}/sse-demo", server.running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Live dashboard"), "SSR page: {html}");
    assert!(
        html.contains("/pkg/sse-hub.js"),
        "hydration script missing: {html}"
    );

    let tok: Value = http
        .post(format!("{}/api/auth/demo-token", server.running.base))
        .json(&json!({"userId": "probe", "role": "user"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["token"].as_str().expect("token");
    let res = http
        .get(format!(
            "{}/api/sse/stream?token={token}",
            server.running.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut events = res.bytes_stream().eventsource();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.event, "connected");
    // The demo ticker's `metrics` events keep coming, with rising ids.
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if e.event == "metrics" {
            ids.push(e.id.clone());
        }
    }
    assert!(ids.windows(2).all(|w| w[0] != w[1]));

    let pid = server.running.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut saw_shutdown = false;
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), events.next()).await {
        match item {
            Ok(e) if e.event == "shutdown" => saw_shutdown = true,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(saw_shutdown, "stream ended without a shutdown event");
    let status = server.running.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "--jwt-secret",
        "--max-connections",
        "--heartbeat-secs",
        "--history-len",
        "--max-event-bytes",
        "--demo",
        "--request-timeout-secs",
        "--redis-ca-cert",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(help.contains("[env: HUB_MAX_CONNECTIONS="), "{help}");
}

#[test]
fn refuses_to_start_without_a_secret_outside_demo_mode() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--demo", "false"])
        .env_remove("HUB_JWT_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jwt-secret is required"));
}

/// With a public key (a provider's: it signs tokens for other applications
/// too) the hub refuses to start until the operator names an audience or
/// says `any`; a leeway above its bound is refused too.
#[test]
fn a_public_key_needs_an_audience_and_the_leeway_is_bounded() {
    let dir = std::env::temp_dir().join(format!("sse-hub-aud-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("public.pem");
    let pair = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&key, pair.public_key_pem()).unwrap();
    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--jwt-algorithm", "es256", "--jwt-public-key"])
            .arg(&key)
            .args(["--demo", "false", "--check-config"])
            .args(extra)
            .env_remove("HUB_JWT_SECRET")
            .env_remove("HUB_JWT_AUDIENCE")
            .output()
            .unwrap()
    };
    let out = check(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--jwt-audience is required"), "{err}");
    for ok in [
        &["--jwt-audience", "sse-hub"][..],
        &["--jwt-audience", "any"],
    ] {
        let out = check(ok);
        assert!(
            out.status.success(),
            "{ok:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = check(&["--jwt-audience", "any,sse-hub"]);
    assert!(!out.status.success(), "`any` with others");
    let out = check(&["--jwt-audience", "sse-hub", "--jwt-leeway-secs", "301"]);
    assert!(!out.status.success(), "a leeway over 300 s");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key set (JWKS): checked like a public key (an audience is needed),
/// its URL must be https (http on loopback only), it does not mix with a
/// secret, and a start whose first fetch fails stops with the reason.
#[test]
fn a_key_set_is_checked_at_start_and_its_first_fetch_must_succeed() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--demo", "false", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("HUB_JWT_SECRET")
            .env_remove("HUB_JWT_AUDIENCE")
            .env_remove("HUB_JWT_JWKS_URL")
            .output()
            .unwrap()
    };
    let refused = |args: &[&str], says: &str| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    let url = "http://127.0.0.1:9/.well-known/jwks.json";
    refused(
        &["--jwt-jwks-url", url, "--check-config"],
        "--jwt-audience is required",
    );
    refused(
        &[
            "--jwt-jwks-url",
            "http://idp.example/jwks",
            "--jwt-audience",
            "sse-hub",
            "--check-config",
        ],
        "https",
    );
    refused(
        &[
            "--jwt-jwks-url",
            url,
            "--jwt-audience",
            "sse-hub",
            "--jwt-secret",
            "0123456789abcdef0",
            "--check-config",
        ],
        "cannot be combined",
    );
    // Nothing listens on port 9: the start stops, saying why.
    refused(
        &["--jwt-jwks-url", url, "--jwt-audience", "sse-hub"],
        "no key set",
    );
    // --check-config does not print the URL (it may carry a key).
    let out = run(&[
        "--jwt-jwks-url",
        "https://idp.example/jwks?key=s3cr3t",
        "--jwt-audience",
        "sse-hub",
        "--check-config",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cr3t"));
}

/// Demo mode is off unless asked for: without flags the server refuses to
/// start (it could check no token), and with a secret it serves no demo
/// routes.
#[tokio::test]
async fn demo_mode_is_off_unless_asked_for() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0"])
        .env_remove("HUB_JWT_SECRET")
        .env_remove("HUB_DEMO")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with no secret and no demo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--jwt-secret is required"), "{err}");
    assert!(err.contains("--demo true"), "{err}");

    let server = start_with(&["--jwt-secret", "a-secret-of-at-least-16-bytes"]);
    assert!(server.notice.is_empty());
    let http = reqwest::Client::new();
    for (path, body) in [
        (
            "/api/auth/demo-token",
            json!({"userId": "x", "role": "admin"}),
        ),
        ("/api/sse/demo", json!({"type": "broadcast"})),
    ] {
        let res = http
            .post(format!("{}{path}", server.running.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

/// No log line ever holds a token: the binary at `--log trace` serves
/// streams and requests with tokens in every accepted place, valid and
/// not, and its whole log is searched for them.
#[tokio::test]
async fn no_log_line_contains_a_token() {
    let secret = "log-test-secret-0123456789abcdef0123";
    let log_path = std::env::temp_dir().join(format!("sse-hub-log-{}.txt", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut running = support::run(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--log", "trace", "--demo", "false"])
            .args(["--jwt-secret", secret, "--public-topics", "news"])
            .env_remove("HUB_DEMO")
            .env_remove("RUST_LOG")
            .stderr(Stdio::from(log)),
    );
    let base = running.base.clone();
    let auth = sse_hub::Auth::hs256(secret.as_bytes());
    let user = sse_hub::UserId::new("log-user").unwrap();
    let token = auth
        .issue(&user, sse_hub::Role::Publisher, Duration::from_secs(600))
        .unwrap();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let http = reqwest::Client::new();
    // A stream per way of sending the token, each read to its first event.
    let stream = format!("{base}/api/sse/stream?topics=news");
    let requests = [
        http.get(format!("{stream}&token={token}")),
        http.get(&stream).bearer_auth(&token),
        http.get(&stream).header("x-auth-token", &token),
    ];
    for req in requests {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        let mut events = res.bytes_stream().eventsource();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.event, "connected");
    }
    let publish = http
        .post(format!("{base}/api/sse/publish?token={token}"))
        .json(&json!({"event": "tick", "data": 1, "target": {"topic": "news"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(publish.status(), 200);
    // Refused tokens are not logged either.
    for bad in [&forged, "not-a-jwt"] {
        let res = http
            .get(format!("{stream}&token={bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let res = http.get(&stream).bearer_auth(bad).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status();
    let _ = running.child.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        text.contains("connection.added"),
        "the log ran at trace level: {} bytes",
        text.len()
    );
    // The signature is the secret part; the payload alone names the user.
    let signature = token.rsplit('.').next().unwrap();
    for (what, needle) in [
        ("a token", token.as_str()),
        ("a signature", signature),
        ("a forged token", forged.as_str()),
        ("a malformed token", "not-a-jwt"),
    ] {
        assert!(
            !text.contains(needle),
            "the log holds {what}: {}",
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_default()
        );
    }
}

/// A Redis that may evict keys is named in the log at start: an eviction
/// resets every client resuming from before it.
#[test]
fn a_redis_that_may_evict_keys_is_named_in_the_log() {
    let redis = redis_server::RedisServer::start_volatile(&["--maxmemory-policy", "allkeys-lru"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--log", "warn", "--demo", "false"])
        .args([
            "--jwt-secret",
            "eviction-secret-0123456789abcdef",
            "--broker",
            &redis.url(),
        ])
        .env_remove("HUB_DEMO")
        .env_remove("HUB_JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server binary starts");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("maxmemory-policy") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = found.unwrap_or_else(|| panic!("no eviction warning; the log: {seen:#?}"));
    assert!(
        line.contains("allkeys-lru") && line.contains("WARN"),
        "{line}"
    );
}

/// `--probe-addr`: a listener of its own with the probes and `/metrics`
/// and nothing else (404 JSON), so a probe never queues behind the main
/// address's stream opens.
#[tokio::test]
async fn the_probes_answer_on_a_listener_of_their_own() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let probes = format!("127.0.0.1:{port}");
    let server = start_with(&[
        "--jwt-secret",
        "a-secret-of-at-least-16-bytes",
        "--probe-addr",
        &probes,
    ]);
    let http = reqwest::Client::new();
    let base = format!("http://{probes}");
    let mut up = false;
    for _ in 0..50 {
        if http.get(format!("{base}/api/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the probe listener answers");
    for path in ["/api/health", "/api/ready", "/metrics"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sse_hub_connections "), "{metrics}");
    // Nothing else: no stream, no publish, no page there.
    for path in ["/api/sse/stream", "/api/sse/publish", "/sse-demo", "/"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }
    // The main address serves as before.
    let res = http
        .get(format!("{}/api/ready", server.running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
