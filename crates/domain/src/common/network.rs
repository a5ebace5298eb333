//! Client addresses as rate limits see them.

use std::net::IpAddr;

/// The subject a per-address limit counts for `ip`: an IPv4 address as it
/// is, and for IPv6 the /64 network, since a single host commonly owns a
/// whole /64 and could otherwise pick a fresh address per request.
/// IPv4-mapped IPv6 addresses count as their IPv4 address; anything that
/// is not an address is used as it is.
#[must_use]
pub fn rate_limit_subject(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
        Err(_) => ip.to_owned(),
    }
}
