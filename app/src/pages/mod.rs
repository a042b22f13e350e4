//! Routed pages.

pub mod feed;
pub mod home;
pub mod sse_demo;
