//! The request reader against hyper, on generated requests (pipelined, one
//! to three at a time): wherever this reader takes a request itself, hyper
//! (which serves everything else) must read the very same request from the
//! same bytes: method, target, version, headers, body, and so where it ends
//! and the next one starts. A request the two read
//! differently is how smuggling starts. The reader may refuse more than
//! hyper does, or hand a request to hyper; it may never read one that
//! hyper would read otherwise, or refuse.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri, Version};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::head::{read_request, Head};
use super::options::ServeOptions;

/// What a reader made of the first request in the bytes.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    method: Method,
    uri: Uri,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn read_of(parts: &http::request::Parts, body: Vec<u8>) -> Read {
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    headers.sort();
    Read {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        version: parts.version,
        headers,
        body,
    }
}

/// Feeds `bytes` (then end of input) to `serve` on one end of a pipe;
/// `None` if it takes over 2 s.
async fn over_pipe<F, Fut, T>(bytes: &[u8], serve: F) -> Option<T>
where
    F: FnOnce(tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let bytes = bytes.to_vec();
    let writer = tokio::spawn(async move {
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        // Keep reading what the server answers, so it never blocks.
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut client, &mut sink).await;
    });
    let out = tokio::time::timeout(Duration::from_secs(2), serve(server)).await;
    writer.abort();
    out.ok()
}

/// The requests this reader takes, in order, until it stops taking them
/// (refuses, hands over to hyper, the input ends or the connection is not
/// to be kept).
async fn ours(bytes: &[u8]) -> Vec<Read> {
    over_pipe(bytes, |mut sock| async move {
        let opts = ServeOptions::default();
        let mut reads = Vec::new();
        let mut carry = Bytes::new();
        loop {
            match read_request(
                &mut sock,
                &opts,
                carry,
                Instant::now() + opts.header_timeout,
            )
            .await
            {
                Head::Request {
                    request,
                    keep_alive,
                    rest,
                } => {
                    let (parts, body) = request.into_parts();
                    reads.push(read_of(&parts, body.to_vec()));
                    if !keep_alive {
                        return reads;
                    }
                    carry = rest;
                }
                _ => return reads,
            }
        }
    })
    .await
    .unwrap_or_default()
}

/// The requests hyper serves from the same bytes, in order.
async fn hypers(bytes: &[u8]) -> Vec<Read> {
    let seen: Arc<Mutex<Vec<Read>>> = Arc::default();
    let record = seen.clone();
    over_pipe(bytes, |sock| async move {
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let record = record.clone();
            async move {
                let (parts, body) = req.into_parts();
                if let Ok(body) = body.collect().await {
                    let read = read_of(&parts, body.to_bytes().to_vec());
                    record.lock().unwrap().push(read);
                }
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }
        });
        // The input ends after the requests: hyper must still answer them.
        let _ = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(hyper_util::rt::TokioIo::new(sock), service)
            .await;
    })
    .await;
    let reads = std::mem::take(&mut *seen.lock().unwrap());
    reads
}

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![20 => Just("\r\n"), 2 => Just("\n"), 1 => Just("\r")]
}

fn request_line() -> impl Strategy<Value = String> {
    let method = prop_oneof![
        4 => Just("GET"),
        4 => Just("POST"),
        1 => Just("HEAD"),
        1 => Just("DELETE"),
        1 => Just("PATCH"),
        1 => Just("M-SEARCH"),
        1 => Just("get"),
        1 => Just("G T"),
        1 => Just(""),
    ];
    let target = prop_oneof![
        3 => Just("/"),
        3 => Just("/api/sse/stream?token=a.b.c&topics=x,y"),
        1 => Just("*"),
        3 => Just("http://host/p?q"),
        1 => Just("/a b"),
        1 => Just("/%00"),
        1 => Just("/\u{e9}"),
        1 => Just(""),
    ];
    let version = prop_oneof![
        12 => Just("HTTP/1.1"),
        2 => Just("HTTP/1.0"),
        1 => Just("HTTP/1.2"),
        1 => Just("HTTP/2.0"),
        1 => Just("http/1.1"),
        1 => Just("HTTP/1.1 "),
    ];
    let sep = prop_oneof![20 => Just(" "), 1 => Just("  "), 1 => Just("\t")];
    (method, sep.clone(), target, sep, version)
        .prop_map(|(m, s1, t, s2, v)| format!("{m}{s1}{t}{s2}{v}"))
}

fn header() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => Just("Host"),
        6 => Just("Content-Length"),
        3 => Just("content-length"),
        3 => Just("Transfer-Encoding"),
        3 => Just("Connection"),
        3 => Just("Expect"),
        3 => Just("Upgrade"),
        3 => Just("X-A"),
        1 => Just("Bad Name"),
        1 => Just("X\u{7f}"),
        1 => Just(""),
        1 => Just(" Host"),
    ];
    let colon = prop_oneof![12 => Just(": "), 2 => Just(":"), 1 => Just(" : "), 1 => Just(":\t"), 1 => Just(": \t ")];
    let value = prop_oneof![
        Just("0"),
        Just("3"),
        Just("5"),
        Just("+5"),
        Just("05"),
        Just("-1"),
        Just("3, 3"),
        Just("3,5"),
        Just(" 3 "),
        Just("99999999999999999999"),
        Just("chunked"),
        Just("identity"),
        Just("close"),
        Just("keep-alive"),
        Just("100-continue"),
        Just("a\u{0}b"),
        Just("\u{e9}t\u{e9}"),
        Just(""),
    ];
    (name, colon, value).prop_map(|(n, c, v)| format!("{n}{c}{v}"))
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        request_line(),
        proptest::collection::vec((header(), line_end()), 0..6),
        line_end(),
        line_end(),
        proptest::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(line, headers, e1, e2, body)| {
            let mut raw = line.into_bytes();
            raw.extend_from_slice(e1.as_bytes());
            for (h, e) in headers {
                raw.extend_from_slice(h.as_bytes());
                raw.extend_from_slice(e.as_bytes());
            }
            raw.extend_from_slice(e2.as_bytes());
            raw.extend_from_slice(&body);
            raw
        })
}

/// One to three requests back to back, as a pipelining client sends them.
fn pipeline() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(request(), 1..4).prop_map(|rs| rs.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn what_the_reader_takes_hyper_reads_the_same(raw in pipeline()) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ours, hypers) = rt.block_on(async { (ours(&raw).await, hypers(&raw).await) });
        // Every request this reader took, hyper took too, the same, at the
        // same place in the stream.
        prop_assert!(
            ours.len() <= hypers.len() && ours[..] == hypers[..ours.len()],
            "ours {:?}\nhyper's {:?}\nfrom {:?}",
            ours,
            hypers,
            String::from_utf8_lossy(&raw)
        );
    }
}
