//! The load generator against a real hub on 127.0.0.1:0: every event must
//! reach every connection, and the report must say so.

use std::process::Command;
use std::time::Duration;

use sse_hub::{Hub, HubConfig};

const SECRET: &str = "smoke-secret-0123456789abcdef0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_bench_reports_full_delivery_against_a_real_hub() {
    let hub = Hub::new(HubConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            sse_hub::router(hub, sse_hub::Auth::hs256(SECRET.as_bytes())),
        )
        .await
        .unwrap()
    });
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sse-bench"))
            .args([
                "--addr",
                &addr.to_string(),
                "--jwt-secret",
                SECRET,
                "--connections",
                "40",
            ])
            .args([
                "--events",
                "50",
                "--rate",
                "500",
                "--payload",
                "256",
                "--json",
            ])
            .output()
            .unwrap()
    });
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["connections_held"], 40, "{report}");
    assert_eq!(report["expected"], 2000);
    assert_eq!(report["delivered"], 2000, "{report}");
    assert_eq!(report["loss"], 0);
    assert!(report["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(report["delivered_per_sec"].as_f64().unwrap() > 0.0);
}
