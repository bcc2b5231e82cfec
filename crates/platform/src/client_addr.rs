//! The client's address, for per-address rate limits.
//!
//! Behind reverse proxies the peer is the proxy, and the client's address is in
//! `X-Forwarded-For`, to which every proxy appends the address it saw. Only the right end of
//! that list is written by proxies we trust: a client can put anything on the left. So the
//! address is the right-most entry that is not one of our proxies, read from the right; without
//! proxy trust (the default) it is the peer, and any header is ignored.

use std::net::IpAddr;

use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Loopback and private ranges: where a deployment's own proxies usually are.
pub const PRIVATE_RANGES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7";

/// Which peers are our reverse proxies; none by default.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    proxies: Vec<IpNet>,
}

impl ProxyTrust {
    /// Trust no proxy: the client is the peer.
    pub fn none() -> ProxyTrust {
        ProxyTrust::default()
    }

    /// Comma-separated addresses or CIDR ranges, e.g. `10.0.0.0/8,192.0.2.7`.
    pub fn parse(list: &str) -> anyhow::Result<ProxyTrust> {
        let proxies = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| anyhow::anyhow!("{s:?} is not an IP address or CIDR range"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(ProxyTrust { proxies })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address as our proxies saw it.
    pub fn client_ip(&self, req: &HttpRequest) -> String {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return "unknown".to_owned();
        };
        self.client_of(peer, forwarded_for(req).as_deref())
            .to_string()
    }

    fn client_of(&self, peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded.unwrap_or_default().rsplit(',') {
            // An entry that is no address was not written by a proxy of ours: stop at the
            // last hop they vouch for.
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// Every `X-Forwarded-For` header, joined in order.
fn forwarded_for(req: &HttpRequest) -> Option<String> {
    let values: Vec<&str> = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `203.0.113.7`, `203.0.113.7:5000`, `2001:db8::1` or `[2001:db8::1]:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_hop_that_is_not_our_proxy_is_the_client() {
        let trust = ProxyTrust::parse("10.0.0.0/8, 192.0.2.9").unwrap();
        let proxy = ip("10.1.2.3");
        // The client wrote the left entry itself; our proxy appended what it saw.
        let seen = trust.client_of(proxy, Some("1.2.3.4, 203.0.113.7"));
        assert_eq!(seen, ip("203.0.113.7"));
        // Two of our proxies in a row, the outer one with a port.
        let seen = trust.client_of(proxy, Some("9.9.9.9, 198.51.100.4:4711, 192.0.2.9"));
        assert_eq!(seen, ip("198.51.100.4"));
        // Everything ours: the left-most, which our first proxy wrote.
        assert_eq!(trust.client_of(proxy, Some("10.9.9.9")), ip("10.9.9.9"));
        // Garbage on the left: the last hop our proxies vouch for.
        assert_eq!(
            trust.client_of(proxy, Some("nonsense, 10.0.0.5")),
            ip("10.0.0.5")
        );
        assert_eq!(
            trust.client_of(proxy, Some("[2001:db8::1]:80")),
            ip("2001:db8::1")
        );
        assert_eq!(trust.client_of(proxy, None), proxy);
    }

    #[test]
    fn a_peer_that_is_not_our_proxy_is_the_client_whatever_it_says() {
        let trust = ProxyTrust::parse(PRIVATE_RANGES).unwrap();
        let stranger = ip("203.0.113.50");
        assert_eq!(trust.client_of(stranger, Some("10.0.0.1")), stranger);
        let none = ProxyTrust::none();
        assert_eq!(
            none.client_of(ip("127.0.0.1"), Some("1.2.3.4")),
            ip("127.0.0.1")
        );
        // An IPv4 peer seen through an IPv6 socket is still the IPv4 proxy.
        assert_eq!(
            trust.client_of(ip("::ffff:10.0.0.2"), Some("198.51.100.1")),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(ProxyTrust::parse("10.0.0.0/33").is_err());
        assert!(ProxyTrust::parse("proxy.internal").is_err());
        assert!(ProxyTrust::parse("").unwrap().proxies.is_empty());
    }
}
