//! Routed pages.

pub mod home;
pub mod sse_demo;
