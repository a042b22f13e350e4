//! The encoder against an independent, spec-following parser
//! (`eventsource-stream`): whatever the payload, the parser must get back
//! exactly one event with our id, type and data (line breaks as LF), even
//! when the bytes arrive split at arbitrary points.

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use proptest::prelude::*;
use sse_hub::wire;
use sse_hub::{EventId, EventName};

fn parse(chunks: Vec<Bytes>) -> Vec<eventsource_stream::Event> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>))
            .eventsource()
            .map(|r| r.expect("parser error"))
            .collect()
            .await
    })
}

fn split(frame: &Bytes, cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (frame.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(frame.slice(start..p));
        start = p;
    }
    out.push(frame.slice(start..));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_payload_round_trips(
        data in "(?s).{0,200}",
        name in "[a-zA-Z0-9._:-]{1,40}",
        epoch in any::<u64>(),
        seq in any::<u64>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let name = EventName::new(&name).unwrap();
        let id = EventId::new(epoch, seq);
        let frame = wire::event_frame(Some(id), Some(&name), &data);
        let events = parse(split(&frame, &cuts));
        prop_assert_eq!(events.len(), 1);
        let e = &events[0];
        prop_assert_eq!(&e.event, name.as_str());
        prop_assert_eq!(&e.id, &id.to_string());
        let expected = data.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(&e.data, &expected);
    }

    #[test]
    fn names_that_could_break_framing_never_validate(s in "(?s).{0,40}") {
        let ok = EventName::new(&s).is_ok();
        let breaks = s.is_empty() || s.len() > 128 || s.contains(['\r', '\n', '\0', ',']);
        prop_assert!(!(ok && breaks));
    }

    #[test]
    fn comments_never_become_events(text in "(?s).{0,100}") {
        let frame = wire::comment_frame(&text);
        prop_assert!(parse(vec![frame]).is_empty());
    }
}

#[test]
fn back_to_back_frames_stay_separate() {
    let a = EventName::new("a").unwrap();
    let mut all = Vec::new();
    for i in 0..50u64 {
        all.extend_from_slice(&wire::event_frame(
            Some(EventId::new(1, i)),
            Some(&a),
            &format!("line\n{i}\r\n"),
        ));
        all.extend_from_slice(&wire::heartbeat_frame(i));
    }
    let events = parse(vec![Bytes::from(all)]);
    assert_eq!(events.len(), 50);
    assert_eq!(events[7].data, "line\n7\n");
    assert_eq!(events[49].id, "1-49");
}

fn query_strategy() -> impl Strategy<Value = String> {
    // Mostly well-formed pairs with hostile values, plus raw noise.
    let key = prop_oneof![
        Just("events".to_string()),
        Just("topics".to_string()),
        Just("sessionId".to_string()),
        Just("lastEventId".to_string()),
        Just("token".to_string()),
        "[a-z%0-9]{1,12}",
    ];
    let value = prop_oneof![
        "(?s).{0,40}",
        "[a-z,]{0,80}",
        "(%[0-9A-F]{2}){0,20}",
        Just("a%0D%0Aevent:x".to_string())
    ];
    prop_oneof![
        proptest::collection::vec((key, value), 0..40).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
        "(?s).{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The query parser never panics, and whatever it accepts is within
    /// bounds and holds no character that could break a frame.
    #[test]
    fn stream_query_parser_holds_its_bounds(q in query_strategy()) {
        let cfg = sse_hub::HubConfig::default();
        if let Ok(parsed) = sse_hub::api::parse_stream_query(&q, &cfg) {
            let filter = parsed.filter.unwrap_or_default();
            prop_assert!(filter.len() <= cfg.max_filters_per_connection);
            prop_assert!(parsed.topics.len() <= cfg.max_topics_per_connection);
            prop_assert!(parsed.metadata.len() <= cfg.max_metadata_pairs);
            for name in filter.iter().map(|n| n.as_str()).chain(parsed.topics.iter().map(|t| t.as_str())) {
                prop_assert!(!name.is_empty() && name.len() <= 128);
                prop_assert!(!name.chars().any(|c| c.is_control() || c == ','));
            }
            for (k, v) in &parsed.metadata {
                prop_assert!(k.len() <= 64 && v.len() <= 256);
                prop_assert!(!k.chars().chain(v.chars()).any(char::is_control));
            }
            if let Some(s) = &parsed.session_id {
                prop_assert!(!s.chars().any(char::is_control));
            }
        }
    }
}
