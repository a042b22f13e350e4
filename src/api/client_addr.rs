//! Which client a request comes from, and how many streams each address
//! holds.
//!
//! One host must not take every stream slot of a node, whatever tokens it
//! holds, so streams are counted per client address. The address is the
//! socket's, unless the socket belongs to a proxy the operator trusts
//! (`--trusted-proxies`): then it is the nearest address in
//! `X-Forwarded-For` that is not itself a trusted proxy, read from the
//! right, because every hop appends and only the hops we trust are
//! honest; a client can write anything on the left.
//!
//! The count lives in a map that holds only addresses with a stream open,
//! so it is bounded by the node's connection limit; a stream returns its
//! slot when its body is dropped, however it ends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::HeaderMap;
use futures_util::Stream;
use parking_lot::Mutex;

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `addr` or `addr/bits`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self {
            net: net.to_canonical(),
            bits,
        })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// Streams open per client address (only addresses with one).
type OpenCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Who the client is, and how many streams one address may hold.
#[derive(Debug, Clone)]
pub struct ClientAddresses {
    proxies: Arc<[Cidr]>,
    per_address: usize,
    open: OpenCounts,
    /// Set once a request came with `X-Forwarded-For` from a socket that is
    /// no trusted proxy: a proxy nobody told us about makes every client
    /// one address, which is worth one warning in the log.
    warned: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for ClientAddresses {
    /// No trusted proxy; [`DEFAULT_STREAMS_PER_ADDRESS`] streams per address.
    fn default() -> Self {
        Self {
            proxies: Arc::from([]),
            per_address: DEFAULT_STREAMS_PER_ADDRESS,
            open: Arc::default(),
            warned: Arc::default(),
        }
    }
}

/// Streams one client address may hold by default: generous, since many
/// users can share one address (offices, carrier NAT), yet a tenth of a
/// default node.
pub const DEFAULT_STREAMS_PER_ADDRESS: usize = 1_000;

impl ClientAddresses {
    /// Believes `X-Forwarded-For` from `trusted_proxies` (addresses or
    /// CIDRs); allows `per_address` streams per client address (0: no limit).
    pub fn new(trusted_proxies: &[&str], per_address: usize) -> Result<Self, String> {
        let proxies = trusted_proxies
            .iter()
            .map(|s| Cidr::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            proxies: proxies.into(),
            per_address,
            open: Arc::default(),
            warned: Arc::default(),
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the socket's, or, from a trusted proxy, the
    /// nearest untrusted hop of `X-Forwarded-For`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut ip = peer.ip().to_canonical();
        if !self.trusted(ip) {
            if headers.contains_key("x-forwarded-for")
                && !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(
                    peer = %ip,
                    "a request came with X-Forwarded-For from an address that is not a trusted \
                     proxy: it counts as that address (if a proxy is in front, name it in \
                     --trusted-proxies, or every client behind it shares one address's limit)"
                );
            }
            return ip;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(hop) = hop.trim().parse::<IpAddr>() else {
                // Garbage from the left of the list: stop at the last
                // address a trusted proxy vouched for.
                break;
            };
            ip = hop.to_canonical();
            if !self.trusted(ip) {
                break;
            }
        }
        ip
    }

    /// Takes a stream slot for `ip`, or `None` if it holds its share.
    pub fn admit(&self, ip: IpAddr) -> Option<AddressSlot> {
        if self.per_address == 0 {
            return Some(AddressSlot(None));
        }
        let mut open = self.open.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot(Some((self.open.clone(), ip))))
    }

    /// Streams per address allowed (0: no limit).
    pub fn per_address(&self) -> usize {
        self.per_address
    }

    /// Streams open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.open.lock().get(&ip).copied().unwrap_or(0)
    }
}

/// One stream's place in its address's count; given back on drop.
#[derive(Debug)]
pub struct AddressSlot(Option<(OpenCounts, IpAddr)>);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((open, ip)) = self.0.take() {
            let mut open = open.lock();
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// The socket address of the request's peer, when the server recorded
/// one ([`crate::net::serve`] does; `axum::serve` with
/// `into_make_service_with_connect_info`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// A stream that holds its address slot for as long as it lives.
pub(super) struct Counted<S> {
    pub(super) inner: S,
    pub(super) _slot: AddressSlot,
}

impl<S: Stream + Unpin> Stream for Counted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn cidrs_match_their_range_only() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        let c = Cidr::parse("10.1.0.0/13").unwrap();
        assert!(c.contains("10.7.0.1".parse().unwrap()));
        assert!(!c.contains("10.8.0.1".parse().unwrap()));
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::1/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let a = ClientAddresses::new(&["10.0.0.0/8"], 5).unwrap();
        let proxy: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        // From a stranger, the header is ignored.
        assert_eq!(a.client(stranger, &headers("1.2.3.4")), stranger.ip());
        // From a proxy: the nearest hop that is not a proxy, from the right;
        // what the client wrote on the left does not count.
        assert_eq!(
            a.client(proxy, &headers("6.6.6.6, 198.51.100.7, 10.0.0.3")),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            a.client(proxy, &headers("garbage, 10.0.0.5")),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(a.client(proxy, &HeaderMap::new()), proxy.ip());
    }

    #[test]
    fn an_address_gets_its_share_and_slots_come_back() {
        let a = ClientAddresses::new(&[], 2).unwrap();
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = a.admit(one).unwrap();
        let _s2 = a.admit(one).unwrap();
        assert!(a.admit(one).is_none());
        assert!(a.admit(two).is_some());
        drop(s1);
        assert_eq!(a.open_from(one), 1);
        assert!(a.admit(one).is_some());
        let unlimited = ClientAddresses::new(&[], 0).unwrap();
        let slots: Vec<_> = (0..10).map(|_| unlimited.admit(one).unwrap()).collect();
        assert_eq!(slots.len(), 10);
    }
}
