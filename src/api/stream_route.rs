//! `GET /api/sse/stream`: the SSE endpoint.
//!
//! The query string is hostile input: every list is bounded, every name is
//! validated, and anything unexpected is a 400 before a connection exists.

use std::collections::{BTreeMap, HashSet};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;

use super::client_addr::{Counted, Peer};
use super::error::ApiError;
use super::extract::Listener;
use crate::config::HubConfig;
use crate::event::{EventName, Topic};
use crate::hub::ConnectRequest;

const MAX_META_KEY: usize = 64;
const MAX_META_VALUE: usize = 256;
const MAX_RESUME_ID: usize = 64;

/// What the query string of a stream asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// `events=a,b`.
    pub filter: Option<HashSet<EventName>>,
    /// `topics=t1,t2`.
    pub topics: Vec<Topic>,
    /// `sessionId=`.
    pub session_id: Option<String>,
    /// `lastEventId=` (the header wins when both are sent).
    pub last_event_id: Option<String>,
    /// `rewind=N`: start with the newest N events of the topics.
    pub rewind: usize,
    /// Every other parameter.
    pub metadata: BTreeMap<String, String>,
}

/// Parses a stream's query string against the hub's limits.
pub fn parse_stream_query(query: &str, cfg: &HubConfig) -> Result<StreamQuery, ApiError> {
    let mut q = StreamQuery::default();
    let mut topics = HashSet::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "token" => {}
            "events" => {
                let filter = q.filter.get_or_insert_with(HashSet::new);
                for name in v.split(',').filter(|s| !s.is_empty()) {
                    filter.insert(EventName::new(name)?);
                    if filter.len() > cfg.max_filters_per_connection {
                        return Err(ApiError::BadRequest(format!(
                            "at most {} event types in `events`",
                            cfg.max_filters_per_connection
                        )));
                    }
                }
            }
            "topics" => {
                for name in v.split(',').filter(|s| !s.is_empty()) {
                    let t = Topic::new(name)?;
                    if topics.insert(t.clone()) {
                        q.topics.push(t);
                    }
                    if q.topics.len() > cfg.max_topics_per_connection {
                        return Err(ApiError::BadRequest(format!(
                            "at most {} topics per connection",
                            cfg.max_topics_per_connection
                        )));
                    }
                }
            }
            "sessionId" => q.session_id = Some(bounded("sessionId", &v, MAX_META_VALUE)?),
            "lastEventId" => q.last_event_id = Some(v.chars().take(MAX_RESUME_ID + 1).collect()),
            "rewind" => {
                q.rewind = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= crate::hub::MAX_REWIND)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "rewind must be a number of events from 0 to {}",
                            crate::hub::MAX_REWIND
                        ))
                    })?
            }
            key => {
                bounded("metadata key", key, MAX_META_KEY)?;
                let value = bounded("metadata value", &v, MAX_META_VALUE)?;
                q.metadata.insert(key.to_string(), value);
                if q.metadata.len() > cfg.max_metadata_pairs {
                    return Err(ApiError::BadRequest(format!(
                        "at most {} metadata parameters",
                        cfg.max_metadata_pairs
                    )));
                }
            }
        }
    }
    Ok(q)
}

fn bounded(what: &str, s: &str, max: usize) -> Result<String, ApiError> {
    if s.len() > max || s.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{what} must be at most {max} bytes without control characters"
        )));
    }
    Ok(s.to_string())
}

/// The stream handler.
pub async fn stream(
    State(api): State<super::state::Api>,
    Listener(principal): Listener,
    Peer(peer): Peer,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let hub = api.hub.clone();
    let q = parse_stream_query(uri.query().unwrap_or(""), hub.config())?;
    let slot = match peer {
        Some(peer) => {
            let ip = api.addresses.client(peer, &headers);
            Some(api.addresses.admit(ip).ok_or_else(|| {
                ApiError::TooManyFromAddress(format!(
                    "{ip} already holds {} streams, the most one address may",
                    api.addresses.per_address()
                ))
            })?)
        }
        None => None,
    };
    if let Some(opens) = &api.opens {
        opens.check("").map_err(|wait| ApiError::RateLimited {
            message: "too many streams opening at once; retry after the given delay".into(),
            retry_after: wait,
        })?;
    }
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().map(str::to_string).unwrap_or_default()),
        None => q.last_event_id,
    };
    let stream = hub
        .connect(ConnectRequest {
            principal,
            filter: q.filter,
            topics: q.topics,
            session_id: q.session_id,
            metadata: q.metadata,
            last_event_id,
            rewind: q.rewind,
        })
        .await?;
    // A cut connection ends with an error, so hyper drops the socket
    // instead of waiting to flush bytes a stalled client never reads.
    let body = match slot {
        Some(slot) => Body::from_stream(Counted {
            inner: stream,
            _slot: slot,
        }),
        None => Body::from_stream(stream),
    };
    let mut res = Response::new(body);
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_metadata() {
        let cfg = HubConfig::default();
        let q = parse_stream_query(
            "token=x&events=a,b&topics=t1,t2,t1&sessionId=s&room=7",
            &cfg,
        )
        .unwrap();
        assert_eq!(q.filter.unwrap().len(), 2);
        assert_eq!(q.topics.len(), 2);
        assert_eq!(q.session_id.as_deref(), Some("s"));
        assert_eq!(q.metadata.get("room").map(String::as_str), Some("7"));
        assert!(!q.metadata.contains_key("token"));
    }

    #[test]
    fn refuses_hostile_queries() {
        let cfg = HubConfig::default();
        let many: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
        for bad in [
            format!("topics={}", many.join(",")),
            format!("events={}", many.join(",")),
            "events=a%0Ab".to_string(),
            "topics=a%00b".to_string(),
            format!("k={}", "v".repeat(300)),
            (0..40)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join("&"),
        ] {
            assert!(
                parse_stream_query(&bad, &cfg).is_err(),
                "accepted {}",
                &bad[..bad.len().min(40)]
            );
        }
    }
}
