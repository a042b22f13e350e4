//! The bounded queue between the publishers and one connection's writer.
//!
//! Why not `tokio::sync::mpsc`: its channel allocates a block of 32 slots
//! (about 1.8 KiB with the channel itself) the moment it is created, and a
//! hub mostly holds idle connections. This queue lives inside the
//! [`Connection`](super::Connection), owns no heap memory while empty, and
//! also carries the "cut" signal, so a connection needs no separate
//! cancellation token either. One short lock per offer: the publisher never
//! waits on a reader.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use parking_lot::Mutex;

/// What travels through a connection's queue.
#[derive(Debug)]
pub(crate) enum Frame {
    /// Bytes to write.
    Data(Bytes),
    /// Bytes to write, then end the stream.
    Close(Bytes),
}

impl Frame {
    /// An event (not a `:heartbeat` comment, not a closing frame): what
    /// `dropped_events` counts when a slow connection is cut.
    pub(crate) fn is_event(&self) -> bool {
        matches!(self, Frame::Data(b) if !b.starts_with(b":"))
    }
}

/// Slots an emptied queue may keep (a burst larger than this gives its
/// memory back once it has been written).
const KEEP_CAPACITY: usize = 8;

/// Why an offer was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is at capacity; `event`: the refused frame was an event.
    Full { event: bool },
    /// The stream is gone or cut.
    Closed,
}

/// What the reader gets next.
#[derive(Debug)]
pub(crate) enum Next {
    Frame(Frame),
    /// The hub cut the connection: stop without writing what is left.
    Cut,
}

#[derive(Debug)]
pub(crate) struct Queue {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Frame>,
    reader: Option<Waker>,
    cut: bool,
    closed: bool,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Queues `frame` unless the queue is full, cut or closed.
    pub(crate) fn offer(&self, frame: Frame) -> Result<(), Refused> {
        let reader = {
            let mut s = self.state.lock();
            if s.cut || s.closed {
                return Err(Refused::Closed);
            }
            if s.frames.len() >= self.capacity {
                return Err(Refused::Full {
                    event: frame.is_event(),
                });
            }
            s.frames.push_back(frame);
            s.reader.take()
        };
        if let Some(w) = reader {
            w.wake();
        }
        Ok(())
    }

    /// Cuts the connection: queued frames are dropped and the reader is
    /// told to stop. Returns how many of the dropped frames were events.
    pub(crate) fn cut(&self) -> usize {
        let (reader, dropped) = {
            let mut s = self.state.lock();
            s.cut = true;
            let dropped = std::mem::take(&mut s.frames)
                .iter()
                .filter(|f| f.is_event())
                .count();
            (s.reader.take(), dropped)
        };
        if let Some(w) = reader {
            w.wake();
        }
        dropped
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.state.lock().cut
    }

    /// The reader went away: later offers are refused, memory is freed.
    pub(crate) fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        s.frames = VecDeque::new();
        s.reader = None;
    }

    /// The next frame, or `Pending` with the reader's waker kept.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Next> {
        let mut s = self.state.lock();
        if s.cut {
            return Poll::Ready(Next::Cut);
        }
        if let Some(frame) = s.frames.pop_front() {
            if s.frames.is_empty() && s.frames.capacity() > KEEP_CAPACITY {
                s.frames = VecDeque::new();
            }
            return Poll::Ready(Next::Frame(frame));
        }
        if !s.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.reader = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    #[cfg(test)]
    fn capacity_held(&self) -> usize {
        self.state.lock().frames.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use bytes::Bytes;

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn data(s: &'static str) -> Frame {
        Frame::Data(Bytes::from_static(s.as_bytes()))
    }

    fn next(q: &Queue, cx: &mut Context<'_>) -> Option<String> {
        match q.poll_next(cx) {
            Poll::Ready(Next::Frame(Frame::Data(b) | Frame::Close(b))) => {
                Some(String::from_utf8(b.to_vec()).unwrap())
            }
            Poll::Ready(Next::Cut) => Some("<cut>".into()),
            Poll::Pending => None,
        }
    }

    #[test]
    fn frames_come_out_in_order_and_wake_the_reader() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let q = Queue::new(3);
        assert_eq!(next(&q, &mut cx), None);
        q.offer(data("a")).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the waiting reader is woken"
        );
        q.offer(data("b")).unwrap();
        q.offer(data("c")).unwrap();
        assert_eq!(q.offer(data("d")), Err(Refused::Full { event: true }));
        assert_eq!(next(&q, &mut cx).as_deref(), Some("a"));
        assert_eq!(next(&q, &mut cx).as_deref(), Some("b"));
        assert_eq!(next(&q, &mut cx).as_deref(), Some("c"));
        assert_eq!(next(&q, &mut cx), None);
    }

    #[test]
    fn a_cut_wins_over_queued_frames_and_refuses_more() {
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        let q = Queue::new(4);
        q.offer(data("a")).unwrap();
        q.cut();
        assert!(q.is_cut());
        assert_eq!(next(&q, &mut cx).as_deref(), Some("<cut>"));
        assert_eq!(q.offer(data("b")), Err(Refused::Closed));
        let q = Queue::new(4);
        q.close();
        assert_eq!(q.offer(data("b")), Err(Refused::Closed));
    }

    #[test]
    fn an_emptied_queue_gives_back_a_burst() {
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        let q = Queue::new(1000);
        assert_eq!(q.capacity_held(), 0, "an idle queue owns no memory");
        for _ in 0..100 {
            q.offer(data("x")).unwrap();
        }
        assert!(q.capacity_held() >= 100);
        while next(&q, &mut cx).is_some() {}
        assert_eq!(q.capacity_held(), 0);
        q.offer(data("y")).unwrap();
        next(&q, &mut cx);
        assert!(q.capacity_held() <= KEEP_CAPACITY);
    }
}
