//! The personal-data detectors: email, phone, SSN, credit card, IP. Each one is a named function
//! that finds candidate shapes (a built `Regex`, or a byte scan where a regex cannot say it) and
//! then validates them in code: Luhn and issuer prefixes for cards, octet ranges for IPv4,
//! `std::net::Ipv6Addr` for IPv6 (compressed forms included), area/group/serial rules for SSNs.
//!
//! Precision comes first: a candidate glued to a longer token (`v1.2.3.4`, `10.0.22631.2861`, a
//! UUID group, `2024-01-15`) is not a match, so versions, build numbers, dates, ids and hashes in
//! coding-session text stay as they are (the corpus test in `tests/corpus.rs` holds this).

use super::secrets::SecretKind;
use regex::Regex;
use std::sync::LazyLock;

/// What a span is; its name is the `Counts` key and (upper-cased) the mask placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Email,
    Phone,
    Ssn,
    CreditCard,
    Ip,
    Secret(SecretKind),
    /// Index into the redactor's custom patterns.
    Custom(usize),
}

impl Kind {
    /// The built-in name (`None` for custom patterns: the redactor knows their names).
    pub(crate) fn builtin_name(self) -> Option<&'static str> {
        Some(match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ssn => "ssn",
            Kind::CreditCard => "credit_card",
            Kind::Ip => "ip",
            Kind::Secret(s) => s.count_name(),
            Kind::Custom(_) => return None,
        })
    }
}

/// A detected value: byte range in the text (on char boundaries) and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

// === boundaries ===

pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A word character right before `start`, other than the letter of an escape written out in
/// text (`\n`, `\t`, `\r`): a tool result that shows a JSON log line has `…\nalice 555-0100`,
/// and the `n` there ends a line, it does not glue.
pub(crate) fn word_before(text: &[u8], start: usize) -> bool {
    let Some(&b) = start.checked_sub(1).and_then(|i| text.get(i)) else {
        return false;
    };
    let escape = start >= 2 && text[start - 2] == b'\\' && b"ntr".contains(&b);
    is_word(b) && !escape
}

/// True when the match `[start, end)` is part of a longer numeric token: a word character right
/// beside it, or a `.`/`-`/`/`/`:` that continues into another digit (`1.2.3.4.5`, `2024-01-15`,
/// `12:30:45`, UUID groups). A sentence-ending `.` or a `-` before a word does not glue.
fn glued_numeric(text: &[u8], start: usize, end: usize, joiners_after: &[u8]) -> bool {
    let before = start.checked_sub(1).map(|i| text[i]);
    let before2 = start.checked_sub(2).map(|i| text[i]);
    if word_before(text, start) {
        return true;
    }
    if let Some(b) = before {
        if b"./:-".contains(&b) && before2.is_some_and(|c| c.is_ascii_digit()) {
            return true;
        }
    }
    glued_after(text, end, joiners_after)
}

/// The after half of `glued_numeric`: a word character, or a joiner followed by a digit.
fn glued_after(text: &[u8], end: usize, joiners: &[u8]) -> bool {
    match text.get(end) {
        Some(&a) if is_word(a) => true,
        Some(&a) if joiners.contains(&a) => text.get(end + 1).is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

// === email ===

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
        .expect("static pattern")
});

/// File extensions that follow `@2x`-style asset names (`icon@2x.png`), never a TLD here.
const NOT_TLDS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf", "js", "ts", "tsx", "jsx", "css",
    "json", "lock", "rs", "py", "go", "rb", "md", "txt", "yaml", "yml", "toml", "html", "map",
];

pub(crate) fn email(text: &str, out: &mut Vec<Span>) {
    if !text.as_bytes().contains(&b'@') {
        return;
    }
    let bytes = text.as_bytes();
    for m in EMAIL.find_iter(text) {
        let (mut start, end) = (m.start(), m.end());
        // `\nalice@…` in text that shows escaped JSON: the `n` belongs to the escape.
        if start > 0 && bytes[start - 1] == b'\\' && b"ntr".contains(&bytes[start]) {
            start += 1;
        }
        // A local part never starts or ends with a dot; `..foo@` trims to `foo@`.
        while bytes[start] == b'.' {
            start += 1;
        }
        let s = &text[start..end];
        let Some(at) = s.find('@') else { continue };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() || local.ends_with('.') || domain.starts_with('-') {
            continue;
        }
        // Glued to a longer token, `git@github.com:org/repo` (scp-style remote, not a person), or
        // a method call on a matrix product (`q@k.transpose(-2, -1)`).
        if bytes
            .get(end)
            .is_some_and(|&b| is_word(b) || b == b':' || b == b'@' || b == b'(')
        {
            continue;
        }
        // `user@host` right after `scheme://` is a URL's user (`ssh://git@github.com/org/repo`).
        if (start > 0 && bytes[start - 1] == b'@') || bytes[..start].ends_with(b"//") {
            continue;
        }
        let tld = domain.rsplit('.').next().unwrap_or("");
        let first = domain.split('.').next().unwrap_or("");
        let asset_scale =
            first.len() == 2 && first.ends_with('x') && first.as_bytes()[0].is_ascii_digit();
        if asset_scale || NOT_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld)) {
            continue;
        }
        out.push(Span {
            start,
            end,
            kind: Kind::Email,
        });
    }
}

// === phone ===

/// International (`+` country code, then groups) or North American (`(555) 123-4567`,
/// `555-123-4567`, `555.123.4567`, `+1 555 123 4567`, with the trunk prefix `1-800-555-0199`).
/// A bare digit run is never a phone: it is far more often an epoch time, a pid or an id.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\))?(?:[ .-]?[0-9]{1,5}){1,6}",
        r"|(?:1[ .-])?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[.-][0-9]{4}",
    ))
    .expect("static pattern")
});

pub(crate) fn phone(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for m in PHONE.find_iter(text) {
        let s = m.as_str();
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        // A `+` opens a new token, so only a word character glues before it (`x+14155552671`,
        // not `(415) 555-0198-+14155550198`).
        let glued = if s.starts_with('+') {
            word_before(bytes, m.start()) || glued_after(bytes, m.end(), b".-/:")
        } else {
            glued_numeric(bytes, m.start(), m.end(), b".-/:")
        };
        if glued {
            continue;
        }
        let ok = if s.starts_with('+') {
            (10..=15).contains(&digits) && !s.contains("  ")
        } else {
            // NANP: `555.123-4567` mixes separators; a version or an address does, a phone not.
            let seps: Vec<u8> = s.bytes().filter(|b| b".-".contains(b)).collect();
            let trunk = digits == 11 && s.starts_with('1');
            (digits == 10 || trunk)
                && seps.windows(2).all(|w| w[0] == w[1])
                && bytes[m.start()] != b'0'
        };
        if ok {
            out.push(Span {
                start: m.start(),
                end: m.end(),
                kind: Kind::Phone,
            });
        }
    }
}

// === SSN ===

static SSN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]{3}-[0-9]{2}-[0-9]{4}").expect("static pattern"));

/// `123-45-6789` with the SSA's rules: area not 000, 666 or 900–999; group not 00; serial not
/// 0000. Undashed nine-digit runs are not taken (ids, zip+4, timestamps look the same).
pub(crate) fn ssn(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    for m in SSN.find_iter(text) {
        let s = m.as_str().as_bytes();
        let area = &s[..3];
        let valid = area != b"000"
            && area != b"666"
            && area[0] != b'9'
            && &s[4..6] != b"00"
            && &s[7..11] != b"0000";
        if valid && !glued_numeric(bytes, m.start(), m.end(), b".-/:") {
            out.push(Span {
                start: m.start(),
                end: m.end(),
                kind: Kind::Ssn,
            });
        }
    }
}

// === credit card ===

/// Digit groups joined by single spaces or dashes; which run of them is a card is decided in code.
static CARD_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]+(?:[ -][0-9]+)*").expect("static pattern"));

pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Issuer prefixes (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro) with the
/// lengths they use: a Luhn-valid 16-digit id starting with 1 or 9 is not a card.
fn issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p2 = u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0');
    let p4 = p2 * 100 + u32::from(d[2] - b'0') * 10 + u32::from(d[3] - b'0');
    let p3 = p4 / 10;
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => (51..=55).contains(&p2) && n == 16 || (p2 == 50 || p2 >= 56) && n >= 12,
        b'2' => (2221..=2720).contains(&p4) && n == 16,
        b'3' => {
            (p2 == 34 || p2 == 37) && n == 15
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&n)
                || (3528..=3589).contains(&p4) && (16..=19).contains(&n)
        }
        b'6' => {
            (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) || p2 == 62 || p2 == 67)
                && (16..=19).contains(&n)
        }
        _ => false,
    }
}

/// Group lengths a printed card uses: one run, 4-4-4-4(-3), 4-6-5 (Amex) or 4-6-4 (Diners).
fn grouping_ok(groups: &[&[u8]]) -> bool {
    match groups {
        [_] => true,
        [a, b, c] if a.len() == 4 && b.len() == 6 && (c.len() == 5 || c.len() == 4) => true,
        _ => {
            let (last, init) = groups
                .split_last()
                .map_or((0, &[][..]), |(l, i)| (l.len(), i));
            init.len() >= 3 && init.iter().all(|g| g.len() == 4) && (1..=4).contains(&last)
        }
    }
}

pub(crate) fn credit_card(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut digits = Vec::with_capacity(19);
    for m in CARD_RUN.find_iter(text) {
        if m.len() < 13 || glued_numeric(bytes, m.start(), m.end(), b"./:") {
            continue;
        }
        // Groups with their offsets; a card may start at any group whose separator is a space
        // (`order 12 4111 1111 1111 1111`), and all separators inside one card are the same.
        let mut groups: Vec<(usize, &[u8])> = Vec::new();
        let mut at = m.start();
        for g in m.as_str().as_bytes().split(|b| *b == b' ' || *b == b'-') {
            groups.push((at, g));
            at += g.len() + 1;
        }
        let mut first = 0;
        while first < groups.len() {
            let found = card_from(bytes, &groups[first..], &mut digits);
            match found {
                Some((start, end)) => {
                    out.push(Span {
                        start,
                        end,
                        kind: Kind::CreditCard,
                    });
                    first += groups[first..].iter().take_while(|(s, _)| *s < end).count();
                }
                None => first += 1,
            }
            // Only a space separates two things; after a dash the run is one token.
            while first < groups.len() && bytes[groups[first].0 - 1] != b' ' {
                first += 1;
            }
        }
    }
}

/// The longest card starting at `groups[0]`, if any.
fn card_from(
    text: &[u8],
    groups: &[(usize, &[u8])],
    digits: &mut Vec<u8>,
) -> Option<(usize, usize)> {
    let start = groups[0].0;
    let mut best = None;
    digits.clear();
    for (i, (gstart, g)) in groups.iter().enumerate() {
        if i > 0 && text[gstart - 1] != text[groups[1].0 - 1] {
            break;
        }
        digits.extend_from_slice(g);
        if digits.len() > 19 {
            break;
        }
        let end = gstart + g.len();
        let next_is_digit_group = groups.get(i + 1).is_some();
        // A card ends at a space (or the run's end); never in the middle of a dashed token.
        let clean_end = !next_is_digit_group || text[end] == b' ';
        let gs: Vec<&[u8]> = groups[..=i].iter().map(|(_, g)| *g).collect();
        if digits.len() >= 13 && clean_end && grouping_ok(&gs) && issuer_ok(digits) && luhn(digits)
        {
            best = Some((start, end));
        }
    }
    best
}

// === IP ===

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
