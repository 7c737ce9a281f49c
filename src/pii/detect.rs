//! The personal-data detectors: email, phone, SSN, credit card (IP in `ip`). Each one is a named
//! function that finds candidate shapes (a built `Regex`, or a byte scan where a regex cannot say
//! it) and then validates them in code: Luhn and issuer prefixes for cards, area/group/serial
//! rules for SSNs; `ip` checks octet ranges and `std::net::Ipv6Addr`.
//!
//! Precision comes first: a candidate glued to a longer token (`v1.2.3.4`, `10.0.22631.2861`, a
//! UUID group, `2024-01-15`) is not a match, so versions, build numbers, dates, ids and hashes in
//! coding-session text stay as they are (the corpus test in `tests/corpus.rs` holds this).

use super::secrets::SecretKind;
use regex::Regex;
use std::sync::LazyLock;

pub(crate) use super::ip::ip;

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
