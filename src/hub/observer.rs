//! What the hub tells about connections: the [`LifecycleObserver`] seam
//! and the events it receives. Apart from the code that sends them
//! (`lifecycle`), so the hub's state can hold an observer without
//! importing the code that uses the state.

pub use sse_protocol::{LifecycleEvent, LifecycleKind};

/// Told about every connection's lifecycle.
pub trait LifecycleObserver: Send + Sync + 'static {
    /// One event. Returns false when it could not be taken (a full queue):
    /// the hub counts it as dropped.
    fn observe(&self, event: LifecycleEvent) -> bool;
}

impl<T: LifecycleObserver + ?Sized> LifecycleObserver for std::sync::Arc<T> {
    fn observe(&self, event: LifecycleEvent) -> bool {
        (**self).observe(event)
    }
}
