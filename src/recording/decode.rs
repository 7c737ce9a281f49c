//! Decoded copies of compressed bodies for the recorder (WIRE.md: clients ask for `gzip, deflate,
//! br, zstd`, providers may answer compressed, the wire keeps the encoded bytes). Handles identity,
//! gzip/x-gzip, deflate (zlib-wrapped or raw, both exist in the wild), br, zstd and comma-separated
//! chains, undone in reverse order (RFC 9110 §8.4). Output is capped (the recorder passes
//! `max_request_body_bytes` for requests, its queue budget for responses, never more than
//! `MAX_DECODED`) so a zip bomb costs a truncated record, not the writer's memory.

use std::borrow::Cow;
use std::io::Read;

/// Largest decoded body accepted, whatever the caller asks for: 256 MiB.
pub(crate) const MAX_DECODED: usize = 256 << 20;

/// The body with every `content-encoding` undone; borrowed when there is nothing to undo.
/// (The recorder uses `decode_lossy`; this strict form is what the tests pin down.)
#[cfg(test)]
pub(crate) fn decode<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
) -> Result<Cow<'a, [u8]>, String> {
    match decode_lossy(content_encoding, body) {
        (bytes, None) => Ok(bytes),
        (_, Some(error)) => Err(error),
    }
}

/// Like `decode`, but also returns what was decoded before a failure: a capture cut short (client
/// gone, memory budget) still yields its readable prefix. The error, if any, says what went wrong.
pub(crate) fn decode_lossy<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
) -> (Cow<'a, [u8]>, Option<String>) {
    let decoded = decode_capped(content_encoding, body, MAX_DECODED);
    (decoded.bytes, decoded.error)
}

/// What `decode_capped` made of a body.
pub(crate) struct DecodedBody<'a> {
    /// Everything that decoded, at most `cap` bytes; borrowed when there was nothing to undo.
    pub bytes: Cow<'a, [u8]>,
    /// Why decoding stopped early (corrupt stream, unknown coding, the cap), if it did.
    pub error: Option<String>,
    /// The decoded body was longer than `cap`: `bytes` is its first `cap` bytes.
    pub capped: bool,
}

/// `decode_lossy` with the output cut at `cap` bytes (`MAX_DECODED` at most). A body with no
/// coding to undo is returned as it is, whatever its length.
pub(crate) fn decode_capped<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    cap: usize,
) -> DecodedBody<'a> {
    let cap = cap.min(MAX_DECODED);
    let codings: Vec<String> = content_encoding
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity" && c != "none")
        .collect();
    let mut current = Cow::Borrowed(body);
    let (mut error, mut capped) = (None, false);
    // The last coding listed was applied last, so it comes off first. After a failure the next
    // coding still gets the prefix, so a chain cut short yields readable bytes, not an inner layer.
    for coding in codings.iter().rev() {
        let decoded = decode_one(coding, &current, cap);
        current = Cow::Owned(decoded.out);
        capped |= decoded.too_large;
        error = error.or(decoded.error);
    }
    DecodedBody {
        bytes: current,
        error,
        capped,
    }
}

fn decode_one(coding: &str, input: &[u8], cap: usize) -> Decoded {
    let read = |reader: &mut dyn Read| read_capped(coding, reader, input.len(), cap);
    match coding {
        "gzip" | "x-gzip" => read(&mut flate2::read::MultiGzDecoder::new(input)),
        "deflate" => {
            // RFC 9110 says zlib-wrapped; some servers send raw deflate. A zlib stream starts with
            // a header whose first two bytes, big-endian, are a multiple of 31 with method 8.
            let zlib_header = input.len() >= 2
                && input[0] & 0x0f == 8
                && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0;
            if zlib_header {
                let zlib = read(&mut flate2::read::ZlibDecoder::new(input));
                // A corrupt zlib stream may be raw deflate after all; a size overrun is final.
                if zlib.error.is_none() || zlib.too_large {
                    return zlib;
                }
            }
            read(&mut flate2::read::DeflateDecoder::new(input))
        }
        "br" => read(&mut brotli_decompressor::Decompressor::new(input, 4096)),
        "zstd" => match zstd::stream::read::Decoder::with_buffer(input) {
            Ok(mut decoder) => read(&mut decoder),
            Err(e) => Decoded::failed(format!("zstd: {e}")),
        },
        other => Decoded::failed(format!("unsupported content-encoding `{other}`")),
    }
}

/// One coding undone: what came out, and why it stopped early if it did.
struct Decoded {
    out: Vec<u8>,
    error: Option<String>,
    too_large: bool,
}

impl Decoded {
    fn failed(error: String) -> Self {
        Self {
            out: Vec::new(),
            error: Some(error),
            too_large: false,
        }
    }
}

/// Reads `reader` to its end, keeping everything before an error and stopping past `cap` bytes.
fn read_capped(coding: &str, reader: &mut dyn Read, input_len: usize, cap: usize) -> Decoded {
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(cap).min(8 << 20));
    let result = reader.take(cap as u64 + 1).read_to_end(&mut out);
    if out.len() > cap {
        out.truncate(cap);
        let limit = if cap >= 1 << 20 && cap % (1 << 20) == 0 {
            format!("{} MiB", cap >> 20)
        } else {
            format!("{cap} bytes")
        };
        let error = Some(format!("{coding}: decoded body exceeds {limit}"));
        return Decoded {
            out,
            error,
            too_large: true,
        };
    }
    let error = result.err().map(|e| format!("{coding}: {e}"));
    Decoded {
        out,
        error,
        too_large: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const BODY: &[u8] =
        "event: message_start\ndata: {\"text\":\"18°C and sunny ☀️\"}\n\n".as_bytes();

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn identity_borrows() {
        for encoding in [None, Some(""), Some("identity"), Some(" Identity , none")] {
            let decoded = decode(encoding, BODY).unwrap();
            assert!(matches!(decoded, Cow::Borrowed(_)), "{encoding:?}");
            assert_eq!(&*decoded, BODY);
        }
    }

    #[test]
    fn gzip_deflate_and_zstd() {
        assert_eq!(&*decode(Some("gzip"), &gzip(BODY)).unwrap(), BODY);
        assert_eq!(&*decode(Some("X-GZIP"), &gzip(BODY)).unwrap(), BODY);
        assert_eq!(&*decode(Some("deflate"), &zlib(BODY)).unwrap(), BODY);
        assert_eq!(&*decode(Some("deflate"), &raw_deflate(BODY)).unwrap(), BODY);
        let zstd = zstd::encode_all(BODY, 3).unwrap();
        assert_eq!(&*decode(Some("zstd"), &zstd).unwrap(), BODY);
    }

    #[test]
    fn brotli_vector_from_python() {
        // brotli.compress(body, quality=11) from Python's `brotli` 1.x.
        const BR: &[u8] = &[
            0x1b, 0xce, 0x00, 0x08, 0x1c, 0x07, 0x76, 0x23, 0xf7, 0x26, 0x99, 0x07, 0xc1, 0xf6,
            0x3c, 0x22, 0xb7, 0xa5, 0x3a, 0xae, 0x56, 0xc3, 0x78, 0xd0, 0xe8, 0x92, 0xcd, 0x10,
            0x6a, 0x1d, 0x96, 0xae, 0xbe, 0x4e, 0x39, 0x60, 0x8f, 0xa3, 0x96, 0xb6, 0xc0, 0x03,
            0xc0, 0x8b, 0xd9, 0x3d, 0xc6, 0xc6, 0xe4, 0x91, 0xab, 0xd0, 0xd7, 0x1f, 0x88, 0x88,
            0x51, 0x96, 0x85, 0xdc, 0xc2, 0x3f, 0x26, 0xc5, 0x57, 0xde, 0xcd, 0xf8, 0x72, 0x86,
            0xbd, 0x61, 0x71, 0x66, 0xf7, 0x13, 0x39,
        ];
        let expected = format!(
            "{{\"type\":\"message\",\"content\":[{{\"type\":\"text\",\"text\":\"{}Batman\"}}],\"stop_reason\":\"end_turn\"}}",
            "na ".repeat(40)
        );
        assert_eq!(&*decode(Some("br"), BR).unwrap(), expected.as_bytes());
        assert!(decode(Some("br"), b"this is not brotli").is_err());
    }

    #[test]
    fn chains_decode_in_reverse_order() {
        // "gzip, zstd": gzip was applied first, then zstd.
        let both = zstd::encode_all(&gzip(BODY)[..], 3).unwrap();
        assert_eq!(&*decode(Some("gzip, zstd"), &both).unwrap(), BODY);
        assert!(decode(Some("zstd, gzip"), &both).is_err());
    }

    #[test]
    fn unknown_and_corrupt_inputs_are_errors_never_panics() {
        let err = decode(Some("compress"), BODY).unwrap_err();
        assert!(err.contains("compress"), "{err}");
        for coding in ["gzip", "deflate", "br", "zstd"] {
            assert!(decode(Some(coding), BODY).is_err(), "{coding}");
            let _ = decode(Some(coding), b"");
            let _ = decode(Some(coding), &[0x1f, 0x8b, 0x08]);
        }
    }

    #[test]
    fn truncated_stream_keeps_its_decoded_prefix() {
        let long: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("data: {i}\n\n").into_bytes())
            .collect();
        let encoded = gzip(&long);
        let (prefix, error) = decode_lossy(Some("gzip"), &encoded[..encoded.len() / 2]);
        assert!(error.is_some());
        assert!(!prefix.is_empty() && long.starts_with(&prefix));
    }

    #[test]
    fn zip_bombs_are_capped() {
        // The same path as the 256 MiB cap, at 1 MiB so the test stays light.
        let zeros = vec![0u8; 3 << 20];
        let cap = 1 << 20;
        for (coding, bomb) in [
            ("zstd", zstd::encode_all(&zeros[..], 1).unwrap()),
            ("gzip", gzip(&zeros)),
            ("deflate", zlib(&zeros)),
        ] {
            assert!(bomb.len() < 64 << 10, "{coding}");
            let decoded = decode_capped(Some(coding), &bomb, cap);
            assert_eq!(decoded.bytes.len(), cap, "{coding}");
            assert!(decoded.capped, "{coding}");
            assert!(
                decoded.error.is_some_and(|e| e.contains("exceeds 1 MiB")),
                "{coding}"
            );
        }
    }

    #[test]
    fn the_callers_cap_keeps_the_decoded_prefix() {
        // The tester's case in miniature: a small gzip upload that inflates far past the cap.
        let long: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect();
        let upload = gzip(&long);
        let cap = 10_000;
        let decoded = decode_capped(Some("gzip"), &upload, cap);
        assert_eq!(&*decoded.bytes, &long[..cap]);
        assert!(decoded.capped);
        assert!(decoded.error.unwrap().contains("exceeds 10000 bytes"));

        // Under the cap: whole, not capped. Nothing to undo: as it is, even past the cap.
        let whole = decode_capped(Some("gzip"), &upload, long.len());
        assert_eq!(
            (&*whole.bytes, whole.capped, whole.error),
            (&long[..], false, None)
        );
        let plain = decode_capped(None, &long, cap);
        assert_eq!((plain.bytes.len(), plain.capped), (long.len(), false));

        // A chain is capped at every step, and a corrupt stream is not "capped".
        let chained = zstd::encode_all(&upload[..], 3).unwrap();
        let decoded = decode_capped(Some("gzip, zstd"), &chained, cap);
        assert!(decoded.capped && long.starts_with(&decoded.bytes));
        let corrupt = decode_capped(Some("gzip"), &upload[..upload.len() / 2], cap * 1000);
        assert!(!corrupt.capped && corrupt.error.is_some());
    }
}
