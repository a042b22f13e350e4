//! Building blocks of the `/sse-demo` dashboard. Each takes the signals it
//! shows as props, so they can be reused with any `use_sse` connection.

pub mod badge;
pub mod banner;
pub mod controls;
pub mod curl;
pub mod event_log;
pub mod jobs;
pub mod notifications;
pub mod presence;
pub mod send_panel;
pub mod sign_in;
pub mod sparkline;
pub mod stats;
pub mod text_field;
pub mod types;
