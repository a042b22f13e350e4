//! Tokens checked against an identity provider's key set (JWKS), served
//! over real HTTP by a stand-in provider on 127.0.0.1: keys by `kid`, each
//! for its own algorithm (RS256, ES256, EdDSA); a rotation found by one
//! fetch; a flood of unknown `kid`s that does not make the hub hammer the
//! provider; `max-age` followed; the last good set kept (and said stale)
//! while the provider fails; size and time limits; a start that fails
//! clearly.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{Audience, Auth, Hub, HubConfig, Jwks, JwksOptions};

fn now() -> u64 {
    sse_hub::event::unix_ms() / 1000
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.unwrap_or_default())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A signing key: its private half for tokens, its public half as a JWK.
struct Key {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn new(kid: &str, alg: Algorithm) -> Key {
        let genargs: &[&str] = match alg {
            Algorithm::RS256 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Algorithm::ES256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Algorithm::EdDSA => &["-algorithm", "ed25519"],
            other => panic!("no test key for {other:?}"),
        };
        let mut args = vec!["genpkey"];
        args.extend(genargs);
        let private = openssl(&args, None);
        let der = openssl(&["pkey", "-pubout", "-outform", "DER"], Some(&private));
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let (encoding, jwk) = match alg {
            Algorithm::RS256 => {
                let modulus = openssl(&["rsa", "-noout", "-modulus"], Some(&private));
                let hex = String::from_utf8(modulus).unwrap();
                let hex = hex.trim().trim_start_matches("Modulus=");
                let n: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                (
                    EncodingKey::from_rsa_pem(&private).unwrap(),
                    json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB", "use": "sig"}),
                )
            }
            Algorithm::ES256 => {
                let point = &der[der.len() - 65..];
                assert_eq!(point[0], 4, "an uncompressed point");
                (
                    EncodingKey::from_ec_pem(&private).unwrap(),
                    json!({"kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256",
                           "x": b64(&point[1..33]), "y": b64(&point[33..])}),
                )
            }
            _ => (
                EncodingKey::from_ed_pem(&private).unwrap(),
                json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "alg": "EdDSA",
                       "x": b64(&der[der.len() - 32..])}),
            ),
        };
        Key {
            kid: kid.into(),
            alg,
            encoding,
            jwk,
        }
    }

    /// A token for `sub`, meant for this hub, signed by this key.
    fn token(&self, sub: &str) -> String {
        self.token_as(self.alg, Some(&self.kid), sub)
    }

    fn token_as(&self, alg: Algorithm, kid: Option<&str>, sub: &str) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        let claims = json!({"sub": sub, "exp": now() + 60, "aud": "sse-hub"});
        encode(&header, &claims, &self.encoding).unwrap()
    }
}

/// A stand-in identity provider: serves whatever set it holds, counts
/// fetches, and can fail, stall or send too much on request.
#[derive(Clone, Default)]
struct Provider {
    set: Arc<Mutex<Value>>,
    max_age: Arc<Mutex<Option<u64>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    stall_ms: Arc<AtomicU64>,
    pad_bytes: Arc<AtomicUsize>,
}

impl Provider {
    fn holding(keys: &[&Key]) -> Provider {
        let p = Provider::default();
        p.hold(keys);
        p
    }

    fn hold(&self, keys: &[&Key]) {
        *self.set.lock() = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    async fn serve(&self) -> String {
        let p = self.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let p = p.clone();
                async move {
                    p.fetches.fetch_add(1, Ordering::SeqCst);
                    let stall = p.stall_ms.load(Ordering::SeqCst);
                    if stall > 0 {
                        tokio::time::sleep(Duration::from_millis(stall)).await;
                    }
                    if p.down.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                    let mut body = p.set.lock().clone();
                    let pad = p.pad_bytes.load(Ordering::SeqCst);
                    if pad > 0 {
                        body["padding"] = json!("x".repeat(pad));
                    }
                    let cache = match *p.max_age.lock() {
                        Some(s) => format!("public, max-age={s}"),
                        None => "public".into(),
                    };
                    ([(CACHE_CONTROL, cache)], axum::Json(body)).into_response()
                }
            }),
        );
        let addr = crate::common::listen(app).await;
        format!("http://{addr}/.well-known/jwks.json")
    }
}

fn options(min_refresh_ms: u64, max_refresh_ms: u64) -> JwksOptions {
    JwksOptions {
        min_refresh: Duration::from_millis(min_refresh_ms),
        max_refresh: Duration::from_millis(max_refresh_ms),
        ..Default::default()
    }
}

/// A hub checking tokens against `jwks`; the URL of its stream route.
async fn hub_with(jwks: Jwks) -> (String, Auth) {
    let auth = Auth::jwks(jwks).with_audience(Audience::OneOf(vec!["sse-hub".into()]));
    auth.start().await.expect("the first fetch");
    let hub = Hub::new(HubConfig::default());
    let addr = crate::common::listen(sse_hub::router(hub, auth.clone())).await;
    (format!("http://{addr}"), auth)
}

async fn status(base: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/api/sse/stream"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
        .status()
}

async fn metric(base: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn each_key_verifies_its_own_algorithm_and_nothing_else() {
    let rsa = Key::new("rsa-1", Algorithm::RS256);
    let ec = Key::new("ec-1", Algorithm::ES256);
    let ed = Key::new("ed-1", Algorithm::EdDSA);
    let provider = Provider::holding(&[&rsa, &ec, &ed]);
    let url = provider.serve().await;
    let (base, _auth) = hub_with(Jwks::from_url(&url, None, JwksOptions::default()).unwrap()).await;

    for key in [&rsa, &ec, &ed] {
        assert_eq!(
            status(&base, &key.token("ann")).await,
            StatusCode::OK,
            "{}",
            key.kid
        );
    }
    // The EC key's kid on an RS256 token signed by the RSA key: the key
    // decides the algorithm, so this is refused.
    let crossed = rsa.token_as(Algorithm::RS256, Some("ec-1"), "ann");
    assert_eq!(status(&base, &crossed).await, StatusCode::UNAUTHORIZED);
    // HS256 "signed" with a public key's published bytes.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let published = rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let confused = encode(
        &header,
        &json!({"sub": "ann", "exp": now() + 60, "aud": "sse-hub"}),
        &EncodingKey::from_secret(&published),
    )
    .unwrap();
    assert_eq!(status(&base, &confused).await, StatusCode::UNAUTHORIZED);
    // alg none, with a known kid.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"rsa-1"}"#),
        URL_SAFE_NO_PAD
            .encode(json!({"sub": "ann", "exp": now() + 60, "aud": "sse-hub"}).to_string())
    );
    assert_eq!(status(&base, &none).await, StatusCode::UNAUTHORIZED);
    // No kid while the set has three keys; a key the set does not hold.
    assert_eq!(
        status(&base, &rsa.token_as(Algorithm::RS256, None, "ann")).await,
        StatusCode::UNAUTHORIZED
    );
    let stranger = Key::new("rsa-1", Algorithm::RS256);
    assert_eq!(
        status(&base, &stranger.token("ann")).await,
        StatusCode::UNAUTHORIZED
    );
    // The audience still applies.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let elsewhere = encode(
        &header,
        &json!({"sub": "ann", "exp": now() + 60, "aud": "billing"}),
        &rsa.encoding,
    )
    .unwrap();
    assert_eq!(status(&base, &elsewhere).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_rotation_is_found_by_one_fetch_and_a_flood_of_unknown_kids_is_not_passed_on() {
    const FLOOR_MS: u64 = 1500;
    let old = Key::new("k-old", Algorithm::ES256);
    let new = Key::new("k-new", Algorithm::ES256);
    let provider = Provider::holding(&[&old]);
    let url = provider.serve().await;
    let (base, _auth) =
        hub_with(Jwks::from_url(&url, None, options(FLOOR_MS, 3_600_000)).unwrap()).await;
    assert_eq!(provider.fetches(), 1, "the first fetch, at start");
    assert_eq!(status(&base, &old.token("ann")).await, StatusCode::OK);

    // The provider rotates; once the floor has passed, the first token
    // signed with the new key makes one fetch and is taken.
    provider.hold(&[&old, &new]);
    tokio::time::sleep(Duration::from_millis(FLOOR_MS + 100)).await;
    assert_eq!(status(&base, &new.token("ann")).await, StatusCode::OK);
    assert_eq!(provider.fetches(), 2, "one fetch found the new key");
    let refetched = Instant::now();

    // 300 tokens with random kids, 50 at a time: all refused, and the
    // provider sees at most one fetch per floor interval.
    let mut flood = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(50));
    for i in 0..300 {
        let (base, token, sem) = (
            base.clone(),
            new.token_as(
                Algorithm::ES256,
                Some(&format!("random-{i}-{}", rand::random::<u32>())),
                "eve",
            ),
            sem.clone(),
        );
        flood.spawn(async move {
            let _p = sem.acquire().await.unwrap();
            status(&base, &token).await
        });
    }
    while let Some(st) = flood.join_next().await {
        assert_eq!(st.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let intervals = refetched.elapsed().as_millis() as usize / FLOOR_MS as usize;
    let extra = provider.fetches() - 2;
    assert!(
        extra <= intervals,
        "{extra} fetches for 300 unknown kids in {} intervals",
        intervals
    );
    // Known keys never waited on any of it.
    assert_eq!(status(&base, &old.token("ann")).await, StatusCode::OK);
}

#[tokio::test]
async fn max_age_is_followed_and_a_failing_provider_leaves_the_last_good_set_in_use() {
    let key = Key::new("k1", Algorithm::RS256);
    let provider = Provider::holding(&[&key]);
    *provider.max_age.lock() = Some(1);
    let url = provider.serve().await;
    let (base, _auth) =
        hub_with(Jwks::from_url(&url, None, options(500, 3_600_000)).unwrap()).await;
    // max-age=1: fetched again about every second.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let fetched = provider.fetches();
    assert!(
        (3..=4).contains(&fetched),
        "{fetched} fetches in 2.6 s with max-age=1"
    );
    assert_eq!(metric(&base, "sse_hub_jwks_stale").await, 0);

    // The provider fails: tokens still verify, readiness stays green,
    // and /metrics says the set is stale.
    provider.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(metric(&base, "sse_hub_jwks_stale").await, 1);
    assert!(metric(&base, "sse_hub_jwks_fetch_failures_total").await >= 1);
    assert_eq!(status(&base, &key.token("ann")).await, StatusCode::OK);
    let ready = reqwest::get(format!("{base}/api/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // Back: the next fetch clears it.
    provider.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(metric(&base, "sse_hub_jwks_stale").await, 0);
    assert_eq!(metric(&base, "sse_hub_jwks_keys").await, 1);

    // The provider rotates and drops the old key: after the next fetch,
    // the new key verifies and the old one is refused.
    let next = Key::new("k2", Algorithm::RS256);
    provider.hold(&[&next]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(status(&base, &next.token("ann")).await, StatusCode::OK);
    assert_eq!(
        status(&base, &key.token("ann")).await,
        StatusCode::UNAUTHORIZED,
        "a dropped key is refused"
    );
}

#[tokio::test]
async fn a_first_fetch_that_fails_stops_the_start_unless_a_file_is_given() {
    let key = Key::new("k1", Algorithm::EdDSA);
    let provider = Provider::holding(&[&key]);
    let url = provider.serve().await;
    let start = |url: &str, file: Option<std::path::PathBuf>, o: JwksOptions| {
        let jwks = Jwks::from_url(url, file, o).unwrap();
        async move { Auth::jwks(jwks).start().await }
    };

    // Too big.
    provider.pad_bytes.store(300 * 1024, Ordering::SeqCst);
    let err = start(&url, None, JwksOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
    provider.pad_bytes.store(0, Ordering::SeqCst);

    // Too slow.
    provider.stall_ms.store(2000, Ordering::SeqCst);
    let t = Instant::now();
    let err = start(
        &url,
        None,
        JwksOptions {
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(err.to_string().contains("JWKS fetch"), "{err}");
    provider.stall_ms.store(0, Ordering::SeqCst);

    // Down, no file: the start fails and says why; with a file, it starts
    // from the file.
    provider.down.store(true, Ordering::SeqCst);
    let err = start(&url, None, JwksOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    let file = std::env::temp_dir().join(format!("sse-hub-jwks-{}.json", std::process::id()));
    std::fs::write(&file, provider.set.lock().to_string()).unwrap();
    let (base, _auth) =
        hub_with(Jwks::from_url(&url, Some(file.clone()), JwksOptions::default()).unwrap()).await;
    assert_eq!(status(&base, &key.token("ann")).await, StatusCode::OK);
    let _ = std::fs::remove_file(&file);

    // Plain http to a host that is not loopback is refused outright.
    assert!(Jwks::from_url("http://idp.example/jwks", None, JwksOptions::default()).is_err());
}

/// What an attacker can put in a token or in front of the provider: a key
/// of their own (`jwk`), a key set of their own (`jku`, `x5u`), a secret
/// the provider published by mistake (`oct`), a huge `kid`, a redirect.
/// None of it is followed: the hub's keys come from its configured set only.
#[tokio::test]
async fn a_token_that_brings_its_own_keys_and_a_set_that_publishes_a_secret_are_refused() {
    let good = Key::new("rsa-1", Algorithm::RS256);
    let secret = b"a-published-hmac-secret-0123456789";
    let provider = Provider::holding(&[&good]);
    provider.set.lock()["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "hmac-1", "alg": "HS256",
                     "k": URL_SAFE_NO_PAD.encode(secret)}));
    let url = provider.serve().await;
    let (base, _auth) =
        hub_with(Jwks::from_url(&url, None, options(60_000, 3_600_000)).unwrap()).await;
    assert_eq!(status(&base, &good.token("ann")).await, StatusCode::OK);

    // The attacker's own key set, served on 127.0.0.1 like the provider's,
    // holding a key under the provider's kid.
    let evil = Key::new("rsa-1", Algorithm::RS256);
    let attacker = Provider::holding(&[&evil]);
    let evil_url = attacker.serve().await;
    let claims = json!({"sub": "admin", "role": "admin", "exp": now() + 60, "aud": "sse-hub"});
    for (what, header) in [
        ("jku", {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("rsa-1".into());
            h.jku = Some(evil_url.clone());
            h
        }),
        ("x5u", {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("rsa-1".into());
            h.x5u = Some(evil_url.clone());
            h
        }),
        ("jwk", {
            let mut h = Header::new(Algorithm::RS256);
            h.jwk = Some(serde_json::from_value(evil.jwk.clone()).unwrap());
            h
        }),
        ("jku with an unknown kid", {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("evil-kid".into());
            h.jku = Some(evil_url.clone());
            h
        }),
    ] {
        let token = encode(&header, &claims, &evil.encoding).unwrap();
        assert_eq!(
            status(&base, &token).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    assert_eq!(attacker.fetches(), 0, "the attacker's set is never fetched");

    // A secret the provider published is no key: anyone could sign with it.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac-1".into());
    let signed = encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
    assert_eq!(status(&base, &signed).await, StatusCode::UNAUTHORIZED);

    // A 16 KiB kid: refused, not echoed, and the hub still answers.
    let huge = good.token_as(Algorithm::RS256, Some(&"k".repeat(16 * 1024)), "ann");
    let res = reqwest::Client::new()
        .get(format!("{base}/api/sse/stream"))
        .bearer_auth(&huge)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let body = res.text().await.unwrap();
    assert!(body.len() < 1024, "{} bytes", body.len());
    assert_eq!(status(&base, &good.token("ann")).await, StatusCode::OK);

    // A redirect is not followed (it could leave https, or the provider).
    let to = url.clone();
    let redirect = axum::Router::new().route(
        "/jwks",
        get(move || {
            let to = to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        }),
    );
    let redirecting = format!("http://{}/jwks", crate::common::listen(redirect).await);
    let err = Auth::jwks(Jwks::from_url(&redirecting, None, JwksOptions::default()).unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("307"), "{err}");
}
