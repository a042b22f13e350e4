//! The hub's vocabulary: validated names, ids, targets and events.
//!
//! Everything that ends up inside an SSE frame header (`event:` and `id:`
//! lines) goes through a validated newtype here, so a CR, LF or NUL smuggled in
//! by a publisher can never split a frame or inject a field into somebody
//! else's stream. The checks run once, at the edge (HTTP API or Rust API), and
//! the rest of the hub trusts the types.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::HubError;

/// Longest event name, topic or user id accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

fn check_token(kind: &'static str, s: &str, extra_forbidden: &[char]) -> Result<(), HubError> {
    if s.is_empty() {
        return Err(HubError::invalid(kind, "must not be empty"));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(HubError::invalid(kind, "is longer than 128 bytes"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || extra_forbidden.contains(c))
    {
        let what = match c {
            '\r' => "CR".to_string(),
            '\n' => "LF".to_string(),
            '\0' => "NUL".to_string(),
            c => format!("{c:?}"),
        };
        return Err(HubError::invalid(kind, &format!("must not contain {what}")));
    }
    Ok(())
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $forbidden:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `s`; the error says what is wrong with it.
            pub fn new(s: impl AsRef<str>) -> Result<Self, HubError> {
                let s = s.as_ref();
                check_token($kind, s, $forbidden)?;
                Ok(Self(Arc::from(s)))
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = HubError;
            fn from_str(s: &str) -> Result<Self, HubError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = HubError;
            fn try_from(s: &str) -> Result<Self, HubError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = HubError;
            fn try_from(s: String) -> Result<Self, HubError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_string!(
    /// An SSE event type (`event:` line): 1–128 bytes, no control characters
    /// and no comma (commas separate names in the `events=` filter).
    EventName,
    "event name",
    &[',']
);
validated_string!(
    /// A topic a connection can subscribe to: 1–128 bytes, no control
    /// characters, no comma.
    Topic,
    "topic",
    &[',']
);
validated_string!(
    /// A user id (the JWT `sub`): 1–128 bytes, no control characters.
    UserId,
    "user id",
    &[]
);
validated_string!(
    /// A connection id, as handed out in the `connected` event.
    ConnectionId,
    "connection id",
    &[]
);

impl ConnectionId {
    /// A fresh random id (128 bits, hex).
    pub fn random() -> Self {
        let n: u128 = rand::random();
        Self(Arc::from(format!("{n:032x}")))
    }
}

/// An event id, `<epoch>-<seq>`, compared as (epoch, seq); the text form
/// can never contain anything but digits and one dash. Ids only rise, so
/// a resume point is one id. The first part is always a time in unix
/// milliseconds, but which time depends on the broker:
///
/// - **memory broker:** the millisecond the node started (one epoch for
///   its whole life); `seq` counts its events from 1. A restarted node has
///   a later epoch, so an id from before the restart is known to be of an
///   earlier era (a `reset`, never a silent skip).
/// - **Redis:** the Redis stream entry id, `<ms>-<n>`: the millisecond of
///   the entry and its place within that millisecond. The epoch of an id
///   is then *when the event was stored*, which the broker relies on: a
///   resume point older than the history age is a gap without a lookup
///   (`history_max_age`), and an id above the stream's newest is from
///   another era of Redis (restarted empty).
///
/// Nothing else may read meaning into either part; [`crate::Hub::epoch`]
/// is the first part of the node's head when it started.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct EventId {
    /// Unix milliseconds: the node's start (memory broker) or the entry's
    /// time (Redis); see the type's docs.
    pub epoch: u64,
    /// The event's place: within the node's life (memory broker, from 1)
    /// or within its millisecond (Redis, from 0).
    pub seq: u64,
}

impl EventId {
    /// Builds an id from its two parts.
    pub const fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl FromStr for EventId {
    type Err = HubError;
    fn from_str(s: &str) -> Result<Self, HubError> {
        let bad = || HubError::invalid("event id", "must look like <epoch>-<seq>");
        let (e, q) = s.split_once('-').ok_or_else(bad)?;
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(e) || !digits(q) {
            return Err(bad());
        }
        Ok(Self {
            epoch: e.parse().map_err(|_| bad())?,
            seq: q.parse().map_err(|_| bad())?,
        })
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Who an event is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Target {
    /// Every connection (`{"all": true}`).
    All(AllFlag),
    /// Every connection of one user.
    User(UserId),
    /// Every connection of each listed user.
    Users(Vec<UserId>),
    /// Every connection subscribed to a topic.
    Topic(Topic),
    /// One connection.
    Connection(ConnectionId),
    /// Every connection whose metadata holds all of these pairs.
    Metadata(BTreeMap<String, String>),
}

impl Target {
    /// `{"all": true}`.
    pub const fn all() -> Self {
        Target::All(AllFlag)
    }
}

/// The `true` in `{"all": true}`; `false` is refused when parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllFlag;

impl Serialize for AllFlag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl<'de> Deserialize<'de> for AllFlag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? {
            Ok(AllFlag)
        } else {
            Err(serde::de::Error::custom("`all` must be true"))
        }
    }
}

/// An event before the hub has given it an id.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The SSE event type.
    pub name: EventName,
    /// The `data:` payload, usually compact JSON; may span lines.
    pub data: String,
    /// Who receives it.
    pub target: Target,
    /// When set, only these users (and admins) may receive the event,
    /// whatever the target says. Used by `data_change`.
    pub audience: Option<Vec<UserId>>,
    /// Publisher-chosen idempotency key: publishing the same key again while
    /// the first event is still in history returns the first id and
    /// delivers nothing.
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    /// An event whose data is `data` serialized as compact JSON; a value
    /// that does not serialize (a map with non-string keys, a failing
    /// `Serialize`) is an error, never a `null` sent in its place.
    pub fn json(name: EventName, data: &impl Serialize, target: Target) -> Result<Self, HubError> {
        let data = serde_json::to_string(data).map_err(|e| {
            HubError::invalid("event data", &format!("not serializable as JSON: {e}"))
        })?;
        Ok(Self {
            name,
            data,
            target,
            audience: None,
            idempotency_key: None,
        })
    }
}

/// An event with its id, encoded once for every subscriber.
#[derive(Debug)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// Its type.
    pub name: EventName,
    /// Its target.
    pub target: Target,
    /// See [`NewEvent::audience`].
    pub audience: Option<Vec<UserId>>,
    /// The complete SSE frame, shared by every connection it is queued to.
    pub frame: Bytes,
    /// Publish time, unix milliseconds.
    pub published_ms: u64,
    /// See [`NewEvent::idempotency_key`].
    pub idempotency_key: Option<String>,
}

/// Milliseconds since the unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_frame_breakers() {
        for bad in ["a\nb", "a\rb", "a\0b", "", "a,b", &"x".repeat(129)] {
            assert!(EventName::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            EventName::new("job.completed").unwrap().as_str(),
            "job.completed"
        );
    }

    #[test]
    fn ids_round_trip_and_order() {
        let a: EventId = "17-2".parse().unwrap();
        let b: EventId = "17-10".parse().unwrap();
        let c: EventId = "18-1".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.to_string(), "17-10");
        for bad in [
            "",
            "1",
            "-1",
            "1-",
            "a-1",
            "1-2-3",
            "1\n-2",
            "99999999999999999999999-1",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn targets_parse_from_json() {
        let t: Target = serde_json::from_str(r#"{"all":true}"#).unwrap();
        assert_eq!(t, Target::all());
        assert!(serde_json::from_str::<Target>(r#"{"all":false}"#).is_err());
        let t: Target = serde_json::from_str(r#"{"users":["a","b"]}"#).unwrap();
        assert!(matches!(t, Target::Users(v) if v.len() == 2));
        assert!(serde_json::from_str::<Target>(r#"{"topic":"a\nb"}"#).is_err());
        assert!(serde_json::from_str::<Target>(r#"{"nope":1}"#).is_err());
    }
}
