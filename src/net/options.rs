//! The limits [`super::serve`] holds every connection to.

use std::time::Duration;

/// How [`super::serve`] treats connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A connection whose socket accepts no byte for this long is dropped
    /// (a client that stopped reading).
    pub write_stall: Duration,
    /// Time a connection has to send a whole request (head and body),
    /// counted from the end of the previous answer on a kept connection.
    pub header_timeout: Duration,
    /// Request heads larger than this are refused with 431.
    pub max_head_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            write_stall: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            max_head_bytes: 16 * 1024,
        }
    }
}

impl ServeOptions {
    /// Hyper's read buffer limit: room for a head of `max_head_bytes` and
    /// a little more (hyper takes no less than 8 KiB).
    pub(super) fn hyper_buf_size(&self) -> usize {
        self.max_head_bytes.max(8 * 1024) + 4 * 1024
    }
}
