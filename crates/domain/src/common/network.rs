//! Client addresses as rate-limit subjects.

use std::net::{IpAddr, Ipv6Addr};

/// Bits of an IPv6 address that name its network: a /64.
const IPV6_SUBJECT_PREFIX: u32 = 64;

/// The subject a client address is counted under by per-address limits.
///
/// An IPv4 address is its own subject. An IPv6 host, however, is normally
/// given a whole /64 (SLAAC, privacy extensions, RFC 6177), so it can pick a
/// fresh address for every request: counting full IPv6 addresses would let
/// one host multiply any per-address limit by 2^64. IPv6 addresses are
/// therefore counted by their /64 prefix, written like `2001:db8:1:2::/64`.
/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 address it
/// maps, so a dual-stack listener counts it like the plain IPv4 address.
/// Input that is not an IP address is returned as is.
///
/// ```
/// use auth_domain::common::rate_limit_subject;
///
/// assert_eq!(rate_limit_subject("192.0.2.1"), "192.0.2.1");
/// assert_eq!(rate_limit_subject("::ffff:192.0.2.1"), "192.0.2.1");
/// assert_eq!(rate_limit_subject("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
/// ```
#[must_use]
pub fn rate_limit_subject(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let mask = u128::MAX << (128 - IPV6_SUBJECT_PREFIX);
                let network = Ipv6Addr::from(u128::from(v6) & mask);
                format!("{network}/{IPV6_SUBJECT_PREFIX}")
            }
        },
        Err(_) => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_are_their_own_subject() {
        assert_eq!(rate_limit_subject("203.0.113.7"), "203.0.113.7");
        assert_eq!(rate_limit_subject("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_address() {
        assert_eq!(rate_limit_subject("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(rate_limit_subject("::ffff:cb00:7107"), "203.0.113.7");
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64() {
        let subject = rate_limit_subject("2001:db8:1:2::1");
        assert_eq!(subject, "2001:db8:1:2::/64");
        assert_eq!(
            rate_limit_subject("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            subject
        );
        assert_eq!(rate_limit_subject("2001:0DB8:0001:0002:a:b:c:d"), subject);
        assert_ne!(rate_limit_subject("2001:db8:1:3::1"), subject);
        assert_eq!(rate_limit_subject("::1"), "::/64");
        assert_eq!(rate_limit_subject("fe80::1"), "fe80::/64");
    }

    #[test]
    fn anything_else_is_kept_as_is() {
        assert_eq!(rate_limit_subject("unknown"), "unknown");
        assert_eq!(rate_limit_subject(""), "");
        assert_eq!(rate_limit_subject("[2001:db8::1]"), "[2001:db8::1]");
    }
}
