//! JSON string escapes for the byte-preserving walker (`json`) and the stream redactor (`sse`):
//! decoding a raw string (`decode`), escaping replacement text (`escape_into`), and mapping edits
//! made on decoded text back onto the raw bytes (`to_raw`), so only the changed spans move.

use super::Edit;
use std::borrow::Cow;

/// One escape or character of a raw JSON string: its raw length and what it decodes to.
fn unit(raw: &[u8], i: usize) -> (usize, char) {
    if raw[i] != b'\\' {
        let len = utf8_len(raw[i]);
        let s = std::str::from_utf8(&raw[i..(i + len).min(raw.len())]).ok();
        return (
            len.min(raw.len() - i),
            s.and_then(|s| s.chars().next()).unwrap_or('\u{FFFD}'),
        );
    }
    let Some(&e) = raw.get(i + 1) else {
        return (1, '\u{FFFD}');
    };
    let c = match e {
        b'n' => '\n',
        b't' => '\t',
        b'r' => '\r',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'u' => {
            let Some(hi) = hex4(raw, i + 2) else {
                return (2, '\u{FFFD}');
            };
            if (0xD800..0xDC00).contains(&hi)
                && raw.get(i + 6) == Some(&b'\\')
                && raw.get(i + 7) == Some(&b'u')
            {
                if let Some(lo) = hex4(raw, i + 8).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return (12, char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
            }
            return (6, char::from_u32(hi).unwrap_or('\u{FFFD}'));
        }
        other => char::from(other),
    };
    (2, c)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(raw.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// The string's text with escapes decoded (borrowed when there are none).
pub(crate) fn decode(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    // Plain runs are copied whole; only escapes go through `unit`.
    while let Some(off) = b[i..].iter().position(|&c| c == b'\\') {
        out.push_str(&raw[i..i + off]);
        i += off;
        let (len, c) = unit(b, i);
        out.push(c);
        i += len.max(1);
    }
    out.push_str(&raw[i..]);
    Cow::Owned(out)
}

/// Raw offsets of decoded offsets (ascending, on character boundaries of the decoded text).
fn raw_offsets(raw: &str, decoded: &[usize]) -> Vec<usize> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(decoded.len());
    let (mut i, mut d) = (0, 0);
    for &want in decoded {
        while d < want && i < b.len() {
            let (len, c) = unit(b, i);
            i += len.max(1);
            d += c.len_utf8();
        }
        out.push(i);
    }
    out
}

/// `s` as JSON string contents.
pub(crate) fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Edits on decoded text → edits on the raw string `raw` starting at `base` in its document.
pub(crate) fn to_raw(raw: &str, escaped: bool, base: usize, edits: &[Edit], out: &mut Vec<Edit>) {
    let offsets: Vec<usize> = edits.iter().flat_map(|e| [e.start, e.end]).collect();
    let mapped = if escaped {
        raw_offsets(raw, &offsets)
    } else {
        offsets
    };
    for (e, pair) in edits.iter().zip(mapped.chunks(2)) {
        let mut with = String::with_capacity(e.with.len());
        escape_into(&e.with, &mut with);
        out.push(Edit {
            start: base + pair[0],
            end: base + pair[1],
            with,
        });
    }
}
