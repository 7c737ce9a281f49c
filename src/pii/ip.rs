//! The IP detector (`detect::ip`): IPv4 by shape and octet ranges, IPv6 by a byte scan checked
//! with `std::net::Ipv6Addr` (compressed forms included). Loopback, unspecified, broadcast and
//! netmask addresses name no one and are left; version strings and build numbers (`10.0.22631.2861`)
//! are not addresses (the boundary rules are `detect`'s).

use super::detect::{is_word, word_before, Kind, Span};
use regex::Regex;
use std::sync::LazyLock;

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}").expect("static pattern")
});

/// Addresses that name no one: unspecified, loopback, broadcast and netmasks (`255.…`).
fn ipv4_ok(s: &str) -> bool {
    let mut octets = [0u16; 4];
    for (i, part) in s.split('.').enumerate() {
        if i >= 4 || (part.len() > 1 && part.starts_with('0')) {
            return false;
        }
        match part.parse::<u16>() {
            Ok(v) if v <= 255 => octets[i] = v,
            _ => return false,
        }
    }
    !(octets == [0, 0, 0, 0] || octets[0] == 127 || octets[0] == 255)
}

/// A version number that has the shape of an address: `x.y.z.0` with no `/prefix` after it (a
/// host address does not end in `.0`; `AssemblyVersion("1.0.0.0")`, `Chrome/122.0.0.0`), or a
/// value right after the word `version` (`Version: 6.1.7.1`, `"version": "1.4.2.1"`).
fn ipv4_is_version(bytes: &[u8], start: usize, end: usize) -> bool {
    if bytes[..end].ends_with(b".0") && bytes.get(end) != Some(&b'/') {
        return true;
    }
    // Up to four quote, colon, equals, paren or blank bytes between `version` and the value.
    let mut i = start;
    while i > 0 && start - i < 4 && b"\"':=( \t".contains(&bytes[i - 1]) {
        i -= 1;
    }
    i >= 7 && bytes[i - 7..i].eq_ignore_ascii_case(b"version")
}

/// True when the dotted quad at `[start, end)` is part of a longer token: a word character on
/// either side, or a `.` joining another number (`1.2.3.4.5`, OIDs, `10.0.22631.2861`). A `/`
/// or `-` before it does not glue: `node-7/10.128.0.5` (kubectl) and `10.0.0.1-10.0.0.9` (a
/// range) hold addresses, and dates never reach four dotted parts.
fn ipv4_glued(bytes: &[u8], start: usize, end: usize) -> bool {
    let digit_at = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let before = start.checked_sub(1).map(|i| bytes[i]);
    let glued_before = word_before(bytes, start)
        || before.is_some_and(|b| b == b'.' && digit_at(start.checked_sub(2)));
    let glued_after = match bytes.get(end) {
        Some(&a) if is_word(a) => true,
        Some(b'.') => digit_at(Some(end + 1)),
        _ => false,
    };
    glued_before || glued_after
}

/// IPv4 (when the text has four digits or more) and IPv6 (when it has a colon).
pub(crate) fn ip(text: &str, digits: usize, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let first_v6 = out.len();
    ipv6(text, out);
    let v4 = if digits >= 4 {
        Some(IPV4.find_iter(text))
    } else {
        None
    };
    for m in v4.into_iter().flatten() {
        let (start, end) = (m.start(), m.end());
        // `:8080` (a port), `/24` (a prefix) and `-10.0.0.9` (a range) may follow an address.
        if !ipv4_ok(m.as_str())
            || ipv4_glued(bytes, start, end)
            || ipv4_is_version(bytes, start, end)
        {
            continue;
        }
        // An IPv4 tail inside an IPv6 address (`::ffff:10.1.2.3`) belongs to the IPv6 span;
        // after any other colon (`inet addr:192.168.1.20`) it stands alone.
        if out[first_v6..]
            .iter()
            .any(|s| s.kind == Kind::Ip && s.start < end && s.end > start)
        {
            continue;
        }
        out.push(Span {
            start,
            end,
            kind: Kind::Ip,
        });
    }
}

fn is_v6_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6: runs of hex digits, colons and dots with two colons or more, parsed by `Ipv6Addr`.
/// Rust paths (`a::b`, `fe::Abc`) and times (`12:30:45`) fail either the parse or the "has a
/// digit, has a letter or `::`" rule; `::1` and `::` are not personal.
fn ipv6(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b':') {
        let colon = i + off;
        let mut start = colon;
        while start > 0 && is_v6_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = colon;
        while end < bytes.len() && is_v6_byte(bytes[end]) {
            end += 1;
        }
        i = end.max(colon + 1);
        let mut cand = &text[start..end];
        // A sentence's full stop or a trailing `:` (`addr fe80::1: up`) is not part of it.
        while cand.ends_with('.') || (cand.ends_with(':') && !cand.ends_with("::")) {
            cand = &cand[..cand.len() - 1];
        }
        while cand.starts_with('.') {
            cand = &cand[1..];
            start += 1;
        }
        let end = start + cand.len();
        if cand.bytes().filter(|&b| b == b':').count() < 2
            || !cand.bytes().any(|b| b.is_ascii_digit())
        {
            continue;
        }
        let glued = word_before(bytes, start)
            || (start > 0 && bytes[start - 1] == b':')
            || bytes.get(end).is_some_and(|&b| is_word(b));
        if glued {
            continue;
        }
        // netstat prints `addr:port` without brackets (`2a00:1450:4001:81c::200e:51514`): when
        // the whole does not parse, the part before a decimal last group may. (When the whole
        // parses too, `…:7334:443`, the port cannot be told from a group and stays inside.)
        let parsed = cand
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| (a, cand))
            .or_else(|| {
                let (head, port) = cand.rsplit_once(':')?;
                let is_port =
                    (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
                let addr = head
                    .parse::<std::net::Ipv6Addr>()
                    .ok()
                    .filter(|_| is_port)?;
                Some((addr, head))
            });
        if let Some((addr, cand)) = parsed {
            let end = start + cand.len();
            // `x[1::2]` (a slice) parses too: a real address has a 3+ digit group or 4+ groups.
            let groups: Vec<&str> = cand.split(':').filter(|g| !g.is_empty()).collect();
            let shaped = groups.len() >= 4 || groups.iter().any(|g| g.len() >= 3);
            if addr.is_loopback() || addr.is_unspecified() || !shaped {
                continue;
            }
            out.push(Span {
                start,
                end,
                kind: Kind::Ip,
            });
        }
    }
}
