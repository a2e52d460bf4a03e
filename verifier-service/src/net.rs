//! Who the client is: the connection's peer address ([`PeerAddr`]), or behind `--trusted-proxy`
//! the rightmost untrusted `X-Forwarded-For` entry ([`client_address`]). The refresh routes charge
//! their budget (`--refresh-rate-per-minute`) to this address.

use axum::extract::connect_info::Connected;
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use axum::serve::IncomingStream;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The connection's peer address, on the plain TCP and the TLS listener alike (the TLS
/// listener's `Connected` impl is beside it, in `server::tls`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The peer address a request arrived from (`0.0.0.0:0` when the router was served without
/// connect info, as in tests that call it directly).
pub fn peer(extensions: &Extensions) -> SocketAddr {
    extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| *addr)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}

/// An address block, `10.0.0.0/8` or `::1/128` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not an address block like 10.0.0.0/8 or fd00::/8");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

fn bits(address: IpAddr) -> (u128, u32) {
    match address.to_canonical() {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        let (net, net_width) = bits(self.network);
        let (addr, addr_width) = bits(address);
        if net_width != addr_width {
            return false;
        }
        let prefix = u32::from(self.prefix);
        if prefix == 0 {
            return true;
        }
        let shift = net_width - prefix;
        net.checked_shr(shift) == addr.checked_shr(shift)
    }
}

fn trusted(proxies: &[Cidr], address: IpAddr) -> bool {
    proxies.iter().any(|cidr| cidr.contains(address))
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
/// `X-Forwarded-For` entry that is not a trusted proxy (entries left of it are the client's own
/// claims and may be forged). When every entry is trusted, the leftmost; when an entry is not an
/// address (garbage, non-ASCII bytes), it is an untrusted client of unknown address: the trusted
/// hop to its right, which handed it over, stands for it. So no bytes a client sends can name a
/// fresh budget, and a header value with bytes outside ASCII is read like any other (the
/// entries a trusted proxy appended after them still count).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    let mut current = peer.ip().to_canonical();
    if !trusted(proxies, current) {
        return current;
    }
    let entries: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .collect();
    for entry in entries.iter().rev() {
        let Some(address) = std::str::from_utf8(entry)
            .ok()
            .and_then(|text| text.parse::<IpAddr>().ok())
        else {
            return current;
        };
        current = address.to_canonical();
        if !trusted(proxies, current) {
            return current;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.9.8.7".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains("192.0.2.1".parse().unwrap()));
        assert!(!one.contains("192.0.2.2".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "x/8", "10.0.0.0/-1", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rightmost_untrusted_forwarded_entry() {
        let proxies = cidrs(&["10.0.0.0/8"]);
        let via_proxy: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let direct: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        // A direct client's header is ignored.
        assert_eq!(
            client_address(direct, &xff(&["1.2.3.4"]), &proxies),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // The forged left entries do not count.
        assert_eq!(
            client_address(
                via_proxy,
                &xff(&["6.6.6.6, 198.51.100.7, 10.1.1.1"]),
                &proxies
            ),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Several headers are one list.
        assert_eq!(
            client_address(via_proxy, &xff(&["6.6.6.6", "198.51.100.8"]), &proxies),
            "198.51.100.8".parse::<IpAddr>().unwrap()
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(via_proxy, &HeaderMap::new(), &proxies),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
        // Garbage ends the trusted chain.
        assert_eq!(
            client_address(via_proxy, &xff(&["1.1.1.1, nonsense, 10.2.2.2"]), &proxies),
            "10.2.2.2".parse::<IpAddr>().unwrap()
        );
        // Bytes outside ASCII are untrusted input, not a reason to skip the header: the entry a
        // trusted proxy appended after them is the client.
        let mut raw = HeaderMap::new();
        raw.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"6.6.6.6\xff\xfe, 198.51.100.7").unwrap(),
        );
        assert_eq!(
            client_address(via_proxy, &raw, &proxies),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let mut raw = HeaderMap::new();
        raw.append("x-forwarded-for", "198.51.100.9".parse().unwrap());
        raw.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xc3\xa9, 10.3.3.3").unwrap(),
        );
        // The non-ASCII entry is the untrusted client: the trusted hop that handed it over
        // stands for it, never the forgeable entry to its left.
        assert_eq!(
            client_address(via_proxy, &raw, &proxies),
            "10.3.3.3".parse::<IpAddr>().unwrap()
        );
        // Without trusted proxies the header never counts.
        assert_eq!(
            client_address(via_proxy, &xff(&["1.1.1.1"]), &[]),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
    }
}
