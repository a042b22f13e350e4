//! Token handling against hostile tokens, over HTTP: every failure is a 401
//! with a JSON body, and only the configured algorithm is accepted.

use std::process::Command;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{Auth, Hub, HubConfig};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn serve(auth: Auth) -> String {
    let hub = Hub::new(HubConfig::default());
    let addr = crate::common::listen(sse_hub::router(hub, auth)).await;
    format!("http://{addr}/api/sse/stream")
}

async fn status_of(url: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let st = res.status();
    if st == StatusCode::OK {
        return (st, Value::Null);
    }
    (st, res.json().await.unwrap())
}

fn unsigned(claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{h}.{c}.")
}

#[tokio::test]
async fn hs256_refuses_every_kind_of_bad_token() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let url = serve(Auth::hs256(secret)).await;
    let key = EncodingKey::from_secret(secret);
    let hs = Header::new(Algorithm::HS256);
    let good = json!({"sub": "alice", "exp": now() + 60});
    assert_eq!(
        status_of(&url, &encode(&hs, &good, &key).unwrap()).await.0,
        StatusCode::OK
    );

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            encode(&hs, &json!({"sub": "a", "exp": now() - 120}), &key).unwrap(),
            "token expired",
        ),
        (
            "not yet valid",
            encode(
                &hs,
                &json!({"sub": "a", "exp": now() + 600, "nbf": now() + 300}),
                &key,
            )
            .unwrap(),
            "token not yet valid",
        ),
        (
            "wrong secret",
            encode(
                &hs,
                &good,
                &EncodingKey::from_secret(b"another-secret-another-secret!!"),
            )
            .unwrap(),
            "invalid token",
        ),
        ("alg none", unsigned(&good), "invalid token"),
        (
            "hs512",
            encode(&Header::new(Algorithm::HS512), &good, &key).unwrap(),
            "invalid token",
        ),
        (
            "no exp",
            encode(&hs, &json!({"sub": "a"}), &key).unwrap(),
            "invalid token",
        ),
        (
            "no sub",
            encode(&hs, &json!({"exp": now() + 60}), &key).unwrap(),
            "invalid token",
        ),
        (
            "sub with LF",
            encode(&hs, &json!({"sub": "a\nb", "exp": now() + 60}), &key).unwrap(),
            "invalid token",
        ),
        ("garbage", "x.y.z".into(), "invalid token"),
        ("huge", "a".repeat(6000), "invalid token"),
    ];
    for (what, token, msg) in cases {
        let (st, body) = status_of(&url, &token).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(body["code"], "unauthorized", "{what}");
        assert!(
            body["error"].as_str().unwrap().starts_with(msg),
            "{what}: {body}"
        );
    }
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn es256_and_rs256_verify_with_public_keys_and_refuse_confusion() {
    let dir = std::env::temp_dir().join(format!("sse-hub-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (alg, genargs) in [
        (
            Algorithm::ES256,
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
        (
            Algorithm::RS256,
            vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
    ] {
        let key_path = dir.join(format!("{alg:?}.pem"));
        let key_str = key_path.to_str().unwrap();
        let mut args = vec!["genpkey"];
        args.extend(genargs);
        args.extend(["-out", key_str]);
        openssl(&args);
        let private = std::fs::read(&key_path).unwrap();
        let public = openssl(&["pkey", "-in", key_str, "-pubout"]);
        let (auth, key) = if alg == Algorithm::ES256 {
            (
                Auth::es256_pem(&public).unwrap(),
                EncodingKey::from_ec_pem(&private).unwrap(),
            )
        } else {
            (
                Auth::rs256_pem(&public).unwrap(),
                EncodingKey::from_rsa_pem(&private).unwrap(),
            )
        };
        assert!(auth
            .issue(
                &sse_hub::UserId::new("x").unwrap(),
                sse_hub::Role::User,
                Duration::from_secs(5)
            )
            .is_err());
        let url = serve(auth).await;
        let claims = json!({"sub": "alice", "exp": now() + 60, "role": "admin"});
        let good = encode(&Header::new(alg), &claims, &key).unwrap();
        assert_eq!(status_of(&url, &good).await.0, StatusCode::OK, "{alg:?}");
        // Algorithm confusion: an HS256 token "signed" with the public key.
        let confused = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert_eq!(
            status_of(&url, &confused).await.0,
            StatusCode::UNAUTHORIZED,
            "{alg:?} confusion"
        );
        assert_eq!(
            status_of(&url, &unsigned(&claims)).await.0,
            StatusCode::UNAUTHORIZED,
            "{alg:?} none"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a provider's tokens carry: `aud` (a string or an array) and `iss`.
/// An audience and an issuer, once set, must match; a token with an `aud`
/// is refused while none is set; `any` takes every audience.
#[tokio::test]
async fn audience_and_issuer_are_checked_as_configured() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = EncodingKey::from_secret(secret);
    let hs = Header::new(Algorithm::HS256);
    let token = |extra: Value| {
        let mut claims = json!({"sub": "alice", "exp": now() + 60});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        encode(&hs, &claims, &key).unwrap()
    };
    let iss = "https://id.example.test/";
    type Tokens = Vec<(&'static str, Value, StatusCode)>;
    let cases: Vec<(&str, Auth, Tokens)> = vec![
        (
            "no audience set",
            Auth::hs256(secret),
            vec![
                ("no aud", json!({}), StatusCode::OK),
                (
                    "an aud",
                    json!({"aud": "billing-app"}),
                    StatusCode::UNAUTHORIZED,
                ),
            ],
        ),
        (
            "audience sse-hub, issuer set",
            Auth::hs256(secret)
                .with_audience(sse_hub::Audience::OneOf(vec![
                    "sse-hub".into(),
                    "hub2".into(),
                ]))
                .with_issuer(Some(iss.into())),
            vec![
                (
                    "aud and iss",
                    json!({"aud": "sse-hub", "iss": iss}),
                    StatusCode::OK,
                ),
                (
                    "aud in an array",
                    json!({"aud": ["x", "sse-hub"], "iss": iss}),
                    StatusCode::OK,
                ),
                (
                    "the second audience",
                    json!({"aud": "hub2", "iss": iss}),
                    StatusCode::OK,
                ),
                (
                    "another app's aud",
                    json!({"aud": "billing-app", "iss": iss}),
                    StatusCode::UNAUTHORIZED,
                ),
                ("no aud", json!({"iss": iss}), StatusCode::UNAUTHORIZED),
                (
                    "another issuer",
                    json!({"aud": "sse-hub", "iss": "https://evil.test/"}),
                    StatusCode::UNAUTHORIZED,
                ),
                (
                    "no iss",
                    json!({"aud": "sse-hub"}),
                    StatusCode::UNAUTHORIZED,
                ),
            ],
        ),
        (
            "any audience",
            Auth::hs256(secret).with_audience(sse_hub::Audience::Any),
            vec![
                ("no aud", json!({}), StatusCode::OK),
                ("an aud", json!({"aud": "billing-app"}), StatusCode::OK),
                (
                    "an array",
                    json!({"aud": ["a", "b"], "iss": "https://whoever/"}),
                    StatusCode::OK,
                ),
            ],
        ),
    ];
    for (setup, auth, tokens) in cases {
        let url = serve(auth).await;
        for (what, extra, want) in tokens {
            let (st, body) = status_of(&url, &token(extra)).await;
            assert_eq!(st, want, "{setup}: {what}: {body}");
            if want == StatusCode::UNAUTHORIZED {
                assert_eq!(body["code"], "unauthorized", "{setup}: {what}");
            }
        }
    }
}

/// `nbf` and `exp` are forgiven the leeway (30 s by default), no more; a
/// leeway above the bound is refused.
#[tokio::test]
async fn not_before_and_expiry_allow_the_leeway_and_no_more() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = EncodingKey::from_secret(secret);
    let hs = Header::new(Algorithm::HS256);
    let at = |nbf: u64, exp: u64| {
        encode(&hs, &json!({"sub": "a", "nbf": nbf, "exp": exp}), &key).unwrap()
    };
    let url = serve(Auth::hs256(secret)).await;
    let t = now();
    assert_eq!(
        status_of(&url, &at(t + 20, t + 600)).await.0,
        StatusCode::OK,
        "nbf 20 s ahead: skew"
    );
    assert_eq!(
        status_of(&url, &at(t - 600, t - 20)).await.0,
        StatusCode::OK,
        "expired 20 s ago: skew"
    );
    let (st, body) = status_of(&url, &at(t + 60, t + 600)).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token not yet valid"))
    );
    let (st, body) = status_of(&url, &at(t - 600, t - 60)).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token expired"))
    );

    let strict = serve(Auth::hs256(secret).with_leeway(Duration::ZERO).unwrap()).await;
    assert_eq!(
        status_of(&strict, &at(t + 20, t + 600)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(Auth::hs256(secret)
        .with_leeway(Duration::from_secs(301))
        .is_err());
}

/// A provider's token shape (Keycloak): the user id in
/// `preferred_username`, roles in `realm_access.roles`, mapped; an
/// unmapped role is `user`, never more; Auth0's namespaced claim works too.
#[tokio::test]
async fn claims_are_read_where_providers_put_them() {
    use sse_hub::auth::{ClaimMapping, ClaimPath, RoleMap};
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = EncodingKey::from_secret(secret);
    let hs = Header::new(Algorithm::HS256);
    let keycloak = ClaimMapping {
        user: ClaimPath::parse("preferred_username").unwrap(),
        role: ClaimPath::parse("realm_access.roles").unwrap(),
        roles: RoleMap::parse(&["hub-admin=admin"]).unwrap(),
        ..ClaimMapping::default()
    };
    let auth0 = ClaimMapping {
        role: ClaimPath::parse("https://example.com/roles").unwrap(),
        roles: RoleMap::parse(&["ops=admin"]).unwrap(),
        ..ClaimMapping::default()
    };
    let cases = [
        (
            keycloak.clone(),
            json!({"preferred_username": "kc-ann", "realm_access": {"roles": ["offline_access", "hub-admin"]}}),
            Some("kc-ann"),
            StatusCode::OK,
        ),
        (
            keycloak.clone(),
            json!({"preferred_username": "kc-bob", "realm_access": {"roles": ["admin", "editor"]}}),
            Some("kc-bob"),
            StatusCode::FORBIDDEN,
        ),
        (
            keycloak.clone(),
            json!({"sub": "only-sub", "realm_access": {"roles": ["hub-admin"]}}),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            auth0.clone(),
            json!({"sub": "auth0|7", "https://example.com/roles": ["ops"]}),
            Some("auth0|7"),
            StatusCode::OK,
        ),
        (
            auth0,
            json!({"sub": "auth0|8", "role": "admin"}),
            Some("auth0|8"),
            StatusCode::FORBIDDEN,
        ),
        (
            ClaimMapping::default(),
            json!({"sub": "own", "role": "editor"}),
            Some("own"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (mapping, claims, user, stats) in cases {
        let mut claims = claims;
        claims["exp"] = json!(now() + 60);
        let token = encode(&hs, &claims, &key).unwrap();
        let hub = Hub::new(HubConfig::default());
        let auth = Auth::hs256(secret).with_claims(mapping);
        let base = format!(
            "http://{}",
            crate::common::listen(sse_hub::router(hub, auth)).await
        );
        let http = reqwest::Client::new();
        let res = http
            .get(format!("{base}/api/sse/stats"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), stats, "stats: {claims}");
        let mut res = http
            .get(format!("{base}/api/sse/stream"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        match user {
            None => assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{claims}"),
            Some(user) => {
                assert_eq!(res.status(), StatusCode::OK, "{claims}");
                let chunk = res.chunk().await.unwrap().unwrap();
                let text = String::from_utf8_lossy(&chunk);
                assert!(
                    text.contains(&format!("\"userId\":\"{user}\"")),
                    "{claims}: {text}"
                );
            }
        }
    }
}

/// `--auth-cookie`: the routes that listen take the token from the cookie
/// (so a page never holds it); publishing never does, whatever the token
/// says (a cookie rides along on cross-site requests). Credentialed CORS
/// is granted to the listed origins only, never to `*`.
#[tokio::test]
async fn a_cookie_token_listens_but_never_publishes_and_cors_credentials_are_exact() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let auth = Auth::hs256(secret).with_cookie(Some("hub_token".into()));
    let admin = auth
        .issue(
            &sse_hub::UserId::new("ops").unwrap(),
            sse_hub::Role::Admin,
            Duration::from_secs(60),
        )
        .unwrap();
    let hub = Hub::new(HubConfig::default());
    let api = sse_hub::Api::new(hub, auth)
        .with_cors_origins(&["http://app.test:8080".into()])
        .unwrap();
    let base = format!("http://{}", crate::common::listen(api.router()).await);
    let http = reqwest::Client::new();
    let cookie = format!("theme=dark; hub_token={admin}");

    // Listening: the cookie is enough.
    let res = http
        .get(format!("{base}/api/sse/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(res);
    let res = http
        .get(format!("{base}/api/sse/history?topic=news"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Acting: an admin's token in a cookie is no credential at all.
    let publish = json!({"event": "x", "data": {}, "target": {"all": true}});
    for (path, method) in [("/api/sse/publish", "POST"), ("/api/sse/stats", "GET")] {
        let req = match method {
            "POST" => http.post(format!("{base}{path}")).json(&publish),
            _ => http.get(format!("{base}{path}")),
        };
        let res = req.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{path}: {body}");
    }
    let res = http
        .post(format!("{base}/api/sse/publish"))
        .bearer_auth(&admin)
        .json(&publish)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "the same token in a header: {}",
        res.text().await.unwrap()
    );

    // CORS: the listed origin may send credentials; another gets no grant.
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{base}/api/sse/stream"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let res = preflight("http://app.test:8080").await.unwrap();
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.test:8080");
    assert_eq!(h["access-control-allow-credentials"], "true");
    // (tower-http still sends allow-credentials; without allow-origin a
    // browser grants nothing.)
    let res = preflight("http://evil.test").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Without listed origins: anyone, never with credentials; a wildcard
    // or a path is no exact origin.
    let open = sse_hub::Api::new(Hub::new(HubConfig::default()), Auth::hs256(secret));
    let base = format!("http://{}", crate::common::listen(open.router()).await);
    let res = http
        .request(reqwest::Method::OPTIONS, format!("{base}/api/sse/stream"))
        .header("origin", "http://evil.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    for bad in [
        "*",
        "https://*.example.com",
        "https://app.example.com/",
        "app.example.com",
        "https://app.example.com/x",
    ] {
        assert!(sse_hub::api::exact_origin(bad).is_err(), "{bad}");
    }
    // A hub without --auth-cookie ignores cookies.
    let res = http
        .get(format!("{base}/api/sse/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// The demo's cookie session (`POST /api/auth/demo-session`, what
/// `/session-demo` signs in with): the token is only in an HttpOnly,
/// `SameSite=Lax` cookie that lives as long as the token, the stream takes
/// it, publishing with it alone is 401, `DELETE` clears it, and a hub that
/// reads no cookie says so with a 404 JSON.
#[tokio::test]
async fn a_demo_session_sets_an_httponly_cookie_that_streams_and_never_publishes() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let auth = Auth::hs256(secret)
        .with_demo_tokens(true, Duration::from_secs(600))
        .with_cookie(Some("sse_session".into()));
    let hub = crate::common::open_hub(HubConfig::default());
    let api = sse_hub::Api::new(hub, auth);
    let options = sse_hub::api::demo::DemoOptions {
        hub_url: Some("http://hub.test:9000".into()),
        ..Default::default()
    };
    let app = api.router().merge(api.demo_router(options));
    let base = format!("http://{}", crate::common::listen(app).await);
    let http = reqwest::Client::new();

    let res = http
        .post(format!("{base}/api/auth/demo-session"))
        .json(&json!({"userId": "ann", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["userId"], "ann", "{body}");
    assert_eq!(body["hubUrl"], "http://hub.test:9000", "{body}");
    assert!(body.get("token").is_none(), "no token in the body: {body}");
    let attrs: Vec<&str> = set.split("; ").collect();
    assert!(attrs[0].starts_with("sse_session=eyJ"), "{set}");
    for want in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&want), "{want} in {set}");
    }
    let max_age: u64 = attrs
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&max_age), "{set}");
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = attrs[0].to_string();

    let res = http
        .get(format!("{base}/api/sse/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(res);
    let res = http
        .post(format!("{base}/api/sse/publish"))
        .header("cookie", &cookie)
        .json(&json!({"event": "x", "data": {}, "target": {"all": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = http
        .delete(format!("{base}/api/auth/demo-session"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("sse_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // Without --auth-cookie there is no session to set.
    let auth = Auth::hs256(secret).with_demo_tokens(true, Duration::from_secs(600));
    let api = sse_hub::Api::new(crate::common::open_hub(HubConfig::default()), auth);
    let app = api.router().merge(api.demo_router(Default::default()));
    let base = format!("http://{}", crate::common::listen(app).await);
    let res = http
        .post(format!("{base}/api/auth/demo-session"))
        .json(&json!({"userId": "ann", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("--auth-cookie"),
        "{body}"
    );
}
