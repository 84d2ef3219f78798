//! What a key may do beyond being valid: read only (safe methods), from which addresses, and
//! how much of the account's quota it may spend.
//!
//! A key for a browser dashboard or a reporting job rarely needs to start scans or exports, and
//! a server's key should only ever arrive from that server's addresses: a leaked key restricted
//! this way is worth much less. The gateway refuses a request outside its key's method or
//! address restrictions with 403 before any bucket is charged; a key's own quota
//! ([`KeyQuota`]) is a bucket like the plan's, refused with 429 when spent.

use std::fmt;
use std::net::IpAddr;

use policy::KeyQuota;

/// The most address ranges one key may list.
pub const MAX_ALLOWED_RANGES: usize = 32;

/// A key's restrictions; the default restricts nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restrictions {
    /// Only GET, HEAD and OPTIONS requests.
    pub read_only: bool,
    /// Requests only from these ranges; empty: from anywhere.
    pub allowed_ips: Vec<IpRange>,
    /// At most this many requests a day or a month, below the plan; `None`: the plan's alone.
    pub quota: Option<KeyQuota>,
}

/// An address range in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`); a bare address is a
/// range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl Restrictions {
    /// Restrictions from a form: `allowed_ips` is a list of ranges separated by commas, spaces or
    /// new lines. The message names the first entry that is not a range.
    pub fn parse(read_only: bool, allowed_ips: &str) -> Result<Self, String> {
        let entries = allowed_ips.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty());
        Self::from_entries(read_only, entries)
    }

    /// Restrictions from a JSON list, one address or range per entry. A blank entry is refused
    /// like any other unreadable one: read as "anywhere", it would lift the restriction.
    pub fn from_list(read_only: bool, allowed_ips: &[String]) -> Result<Self, String> {
        Self::from_entries(read_only, allowed_ips.iter().map(|entry| entry.trim()))
    }

    fn from_entries<'a>(read_only: bool, entries: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for (count, entry) in entries.enumerate() {
            if count == MAX_ALLOWED_RANGES {
                return Err(format!("List at most {MAX_ALLOWED_RANGES} address ranges."));
            }
            let range = IpRange::parse(entry)?;
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        Ok(Self { read_only, allowed_ips: ranges, quota: None })
    }

    /// The same restrictions with the key's own quota set (or removed).
    pub fn with_quota(self, quota: Option<KeyQuota>) -> Self {
        Self { quota, ..self }
    }

    /// The stored form of the address list: ranges separated by commas, or `None` for anywhere.
    pub fn allowed_ips_text(&self) -> Option<String> {
        if self.allowed_ips.is_empty() {
            return None;
        }
        Some(self.allowed_ips.iter().map(IpRange::to_string).collect::<Vec<_>>().join(", "))
    }

    /// Whether a request with this method fits: a read-only key may only read.
    pub fn allows_method(&self, method: &str) -> bool {
        !self.read_only || matches!(method, "GET" | "HEAD" | "OPTIONS")
    }

    /// Whether a request from this address fits.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|range| range.contains(ip))
    }

    /// In words, for the audit log and the pages: "read only; from 203.0.113.0/24; at most
    /// 1,000 requests a day".
    pub fn describe(&self) -> String {
        let access = if self.read_only { "read only" } else { "full access" };
        let mut text = match self.allowed_ips_text() {
            Some(ranges) => format!("{access}; from {ranges}"),
            None => format!("{access}; from any address"),
        };
        if let Some(quota) = self.quota {
            text.push_str(&format!("; at most {}", quota.describe()));
        }
        text
    }
}

impl IpRange {
    pub fn parse(text: &str) -> Result<Self, String> {
        let unreadable =
            || format!("{text:?} is not an IP address or range, like 203.0.113.7 or 203.0.113.0/24.");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| unreadable())?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(digits) => match digits.parse::<u8>() {
                Ok(prefix) if prefix <= bits && digits.bytes().all(|b| b.is_ascii_digit()) => prefix,
                _ => return Err(unreadable()),
            },
        };
        let range = Self { network: masked(network, prefix), prefix };
        if range.network != network {
            return Err(format!("{text} has bits set past its /{prefix}: did you mean {range}?"));
        }
        Ok(range)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let single = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == single {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// `ip` with every bit past the first `prefix` cleared.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_hold_the_addresses_under_their_prefix() {
        let range = IpRange::parse("203.0.113.0/24").unwrap();
        assert!(range.contains(ip("203.0.113.0")));
        assert!(range.contains(ip("203.0.113.255")));
        assert!(!range.contains(ip("203.0.114.1")));
        assert!(range.contains(ip("::ffff:203.0.113.9")), "an IPv4 client seen on an IPv6 socket");
        let single = IpRange::parse("198.51.100.7").unwrap();
        assert!(single.contains(ip("198.51.100.7")) && !single.contains(ip("198.51.100.8")));
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("203.0.113.9")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpRange::parse("::/0").unwrap().contains(ip("2001:db8::1")));
    }

    #[test]
    fn unreadable_ranges_are_named_in_the_error() {
        for bad in ["", "localhost", "203.0.113.0/33", "2001:db8::/129", "1.2.3.4/", "1.2.3.4/+8", "1.2.3/24"]
        {
            let error = IpRange::parse(bad).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
        }
        assert_eq!(
            IpRange::parse("203.0.113.7/24").unwrap_err(),
            "203.0.113.7/24 has bits set past its /24: did you mean 203.0.113.0/24?"
        );
    }

    #[test]
    fn a_list_is_parsed_deduplicated_and_written_back() {
        let parsed = Restrictions::parse(true, " 203.0.113.0/24,\n2001:db8::/32  203.0.113.0/24 ").unwrap();
        assert_eq!(parsed.allowed_ips_text().as_deref(), Some("203.0.113.0/24, 2001:db8::/32"));
        assert_eq!(parsed.describe(), "read only; from 203.0.113.0/24, 2001:db8::/32");
        let capped = parsed.clone().with_quota(policy::KeyQuota::parse("2500", "month").unwrap());
        assert_eq!(
            capped.describe(),
            "read only; from 203.0.113.0/24, 2001:db8::/32; at most 2,500 requests a month"
        );
        let again = Restrictions::parse(true, &parsed.allowed_ips_text().unwrap()).unwrap();
        assert_eq!(again, parsed);
        assert_eq!(Restrictions::parse(false, " \n").unwrap(), Restrictions::default());
        let many: Vec<String> = (0..=MAX_ALLOWED_RANGES).map(|i| format!("10.0.0.{i}")).collect();
        assert!(Restrictions::parse(false, &many.join(",")).is_err());
        let repeated = vec!["10.0.0.1".to_owned(); MAX_ALLOWED_RANGES + 1];
        assert!(Restrictions::from_list(false, &repeated).is_err(), "entries are counted as sent");
        assert!(Restrictions::from_list(false, &repeated[1..]).is_ok());
    }

    #[test]
    fn a_json_list_takes_one_range_per_entry_and_no_blank_one() {
        let listed = Restrictions::from_list(false, &[" 203.0.113.0/24 ".to_owned()]).unwrap();
        assert_eq!(listed.allowed_ips_text().as_deref(), Some("203.0.113.0/24"));
        for bad in ["", "   ", "203.0.113.7, 203.0.113.8"] {
            assert!(Restrictions::from_list(false, &[bad.to_owned()]).is_err(), "{bad:?}");
        }
        assert_eq!(
            Restrictions::from_list(true, &[]).unwrap(),
            Restrictions { read_only: true, ..Default::default() }
        );
    }

    #[test]
    fn read_only_keys_may_only_read() {
        let read_only = Restrictions { read_only: true, ..Restrictions::default() };
        assert!(read_only.allows_method("GET") && read_only.allows_method("HEAD"));
        assert!(!read_only.allows_method("POST") && !read_only.allows_method("DELETE"));
        assert!(Restrictions::default().allows_method("POST"));
        assert!(Restrictions::default().allows_ip(ip("192.0.2.1")));
        let from_one = Restrictions::parse(false, "192.0.2.1").unwrap();
        assert!(from_one.allows_ip(ip("192.0.2.1")) && !from_one.allows_ip(ip("192.0.2.2")));
    }
}
