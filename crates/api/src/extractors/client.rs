use std::convert::Infallible;
use std::net::IpAddr;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use auth_domain::session::ClientInfo;
use futures_util::future::{Ready, ready};

use crate::state::AppState;

const MAX_USER_AGENT_CHARS: usize = 512;

/// Proxies whose `X-Forwarded-For` is believed: addresses or CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses entries like `10.0.0.1`, `10.0.0.0/8` or `::1`.
    ///
    /// # Errors
    /// The first entry that is not an address or a CIDR block.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                let (address, prefix) = match entry.split_once('/') {
                    Some((address, prefix)) => (address, Some(prefix)),
                    None => (entry, None),
                };
                let address = IpAddr::from_str(address).map_err(|_| entry.to_owned())?;
                let max = if address.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    Some(p) => p
                        .parse::<u8>()
                        .ok()
                        .filter(|p| *p <= max)
                        .ok_or(entry.to_owned())?,
                    None => max,
                };
                Ok((address, prefix))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` belongs to a trusted proxy.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(network, prefix)| in_network(ip, *network, *prefix))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy,
    /// the right-most `X-Forwarded-For` entry that is not a trusted proxy.
    #[must_use]
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if self.0.is_empty() || !self.contains(peer) {
            return Some(peer);
        }
        let Some(chain) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in chain.rsplit(',') {
            let Ok(hop) = IpAddr::from_str(hop.trim()) else {
                break;
            };
            client = hop;
            if !self.contains(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// Every `X-Forwarded-For` line of `headers`, in order, joined with `,`: a
/// header sent on several lines is one comma-separated list (RFC 9110
/// §5.3), and the proxy next to us appends its line last, so reading only
/// the first line would believe whatever the client wrote there. A line
/// that is not visible ASCII becomes an entry that is no address, which
/// stops the walk from the right there. `None` without the header.
#[must_use]
fn forwarded_for_chain(headers: &header::HeaderMap) -> Option<String> {
    let mut lines = headers
        .get_all("x-forwarded-for")
        .map(|line| line.to_str().unwrap_or("invalid"))
        .peekable();
    lines.peek()?;
    Some(lines.collect::<Vec<_>>().join(","))
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Where a request comes from: its `User-Agent` and client IP.
#[derive(Debug, Clone)]
pub struct RequestClient(pub ClientInfo);

impl RequestClient {
    /// Reads the client of `req`.
    #[must_use]
    pub fn of(req: &HttpRequest) -> ClientInfo {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.trusted_proxies.clone())
            .unwrap_or_default();
        let peer = req.peer_addr().map(|a| a.ip());
        // The chain matters only when the peer is a trusted proxy.
        let forwarded_for = peer
            .filter(|peer| trusted.contains(*peer))
            .and_then(|_| forwarded_for_chain(req.headers()));
        let ip = trusted.client_ip(peer, forwarded_for.as_deref());
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|ua| !ua.is_empty());
        ClientInfo {
            user_agent,
            ip: ip.map(|ip| ip.to_string()),
        }
    }
}

impl FromRequest for RequestClient {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(Self::of(req))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("ip")
    }

    #[test]
    fn ignores_forwarded_for_from_untrusted_peers() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).expect("valid");
        assert_eq!(
            trusted.client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(Some(ip("10.0.0.1")), Some("1.2.3.4")),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn walks_the_chain_through_trusted_proxies() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).expect("valid");
        assert_eq!(
            trusted.client_ip(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 198.51.100.7, 10.1.1.1")
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            trusted.client_ip(Some(ip("::1")), Some("garbage")),
            Some(ip("::1"))
        );
    }

    #[test]
    fn joins_every_forwarded_for_line_in_order() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(forwarded_for_chain(&headers), None);
        let name = header::HeaderName::from_static("x-forwarded-for");
        headers.append(name.clone(), "6.6.6.6, 7.7.7.7".parse().expect("value"));
        headers.append(name.clone(), "198.51.100.7".parse().expect("value"));
        let chain = forwarded_for_chain(&headers).expect("chain");
        assert_eq!(chain, "6.6.6.6, 7.7.7.7,198.51.100.7");
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).expect("valid");
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.1")), Some(&chain)),
            Some(ip("198.51.100.7")),
            "the right-most untrusted address, from the last line"
        );
        // An unreadable line stops the walk where it stands.
        headers.append(
            name,
            header::HeaderValue::from_bytes(b"10.0.0.2 \xff").expect("value"),
        );
        let chain = forwarded_for_chain(&headers).expect("chain");
        assert_eq!(
            trusted.client_ip(Some(ip("10.0.0.1")), Some(&chain)),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
    }
}
