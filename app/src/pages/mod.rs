//! Routed pages.

pub mod feed;
pub mod home;
pub mod session_demo;
pub mod sse_demo;
