//! Topic patterns, as tokens grant them and `--public-topics` lists them.
//!
//! A pattern is an exact topic, a prefix ending in `*` (`orders.*` matches
//! `orders.17`, not `orders`) or `*` alone. `{sub}` stands for the token's
//! `sub`. The kind of a pattern is decided before `{sub}` is replaced, and
//! the replacement is literal, so a `sub` holding `*` never widens a grant.

use crate::error::HubError;
use crate::event::{Topic, UserId};

/// Most patterns one token or `--public-topics` may hold: matching is a
/// scan, so a token cannot make every subscribe expensive.
pub const MAX_PATTERNS: usize = 64;

/// Longest pattern, in bytes.
const MAX_PATTERN_LEN: usize = 256;

/// One parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    /// The text before the `*`, or the whole exact topic.
    text: String,
    /// Ends in `*`: matches every topic that starts with `text`.
    prefix: bool,
}

impl TopicPattern {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<Self, HubError> {
        if s.is_empty() || s.len() > MAX_PATTERN_LEN || s.chars().any(char::is_control) {
            return Err(HubError::invalid(
                "topic pattern",
                "must be 1-256 bytes without control characters",
            ));
        }
        Ok(match s.strip_suffix('*') {
            Some(text) => Self {
                text: text.to_string(),
                prefix: true,
            },
            None => Self {
                text: s.to_string(),
                prefix: false,
            },
        })
    }

    /// Parses a list (at most [`MAX_PATTERNS`]).
    pub fn parse_all<S: AsRef<str>>(list: &[S]) -> Result<Vec<Self>, HubError> {
        if list.len() > MAX_PATTERNS {
            return Err(HubError::invalid(
                "topic patterns",
                &format!("at most {MAX_PATTERNS}"),
            ));
        }
        list.iter().map(|s| Self::parse(s.as_ref())).collect()
    }

    /// Whether `topic` matches, `{sub}` standing for `sub`.
    pub fn matches(&self, topic: &Topic, sub: &UserId) -> bool {
        let topic = topic.as_str();
        if !self.text.contains("{sub}") {
            return self.matches_text(&self.text, topic);
        }
        let text = self.text.replace("{sub}", sub.as_str());
        self.matches_text(&text, topic)
    }

    /// Whether `topic` matches, `{sub}` taken as plain text (for patterns
    /// that name topics for everyone, such as `--presence-topics`).
    pub fn matches_topic(&self, topic: &Topic) -> bool {
        self.matches_text(&self.text, topic.as_str())
    }

    fn matches_text(&self, text: &str, topic: &str) -> bool {
        if self.prefix {
            text.is_empty() || (topic.len() > text.len() && topic.starts_with(text))
        } else {
            topic == text
        }
    }
}

/// What a token grants (its `topics` claim), parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    /// `topics.subscribe`; `None` when the claim does not say.
    pub subscribe: Option<Vec<TopicPattern>>,
    /// `topics.publish`; `None` when the claim does not say.
    pub publish: Option<Vec<TopicPattern>>,
}

/// Whether any of `patterns` matches `topic` for `sub`.
pub fn any_matches(patterns: &[TopicPattern], topic: &Topic, sub: &UserId) -> bool {
    patterns.iter().any(|p| p.matches(topic, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, topic: &str, sub: &str) -> bool {
        TopicPattern::parse(pattern)
            .unwrap()
            .matches(&Topic::new(topic).unwrap(), &UserId::new(sub).unwrap())
    }

    #[test]
    fn exact_prefix_and_everything() {
        assert!(m("orders", "orders", "u"));
        assert!(!m("orders", "orders.1", "u"));
        assert!(m("orders.*", "orders.17", "u"));
        assert!(!m("orders.*", "orders.", "u"));
        assert!(!m("orders.*", "orders", "u"));
        assert!(!m("orders.*", "ordersX", "u"));
        assert!(m("*", "anything", "u"));
        assert!(m("*", "orders", "u"));
    }

    #[test]
    fn sub_is_literal_and_never_widens() {
        assert!(m("user.{sub}.*", "user.ann.inbox", "ann"));
        assert!(!m("user.{sub}.*", "user.bob.inbox", "ann"));
        assert!(m("user.{sub}", "user.ann", "ann"));
        // A `sub` of `*` or `a*` is text, not a wildcard.
        assert!(!m("user.{sub}", "user.bob", "*"));
        assert!(m("user.{sub}", "user.*", "*"));
        assert!(!m("user.{sub}.*", "user.ab.x", "a*"));
        assert!(m("user.{sub}.*", "user.a*.x", "a*"));
        assert!(!m("{sub}", "anything", "*"));
    }

    #[test]
    fn lists_are_bounded() {
        let many: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("t{i}")).collect();
        assert!(TopicPattern::parse_all(&many).is_err());
        assert!(TopicPattern::parse("").is_err());
        assert!(TopicPattern::parse("a\nb").is_err());
    }
}
