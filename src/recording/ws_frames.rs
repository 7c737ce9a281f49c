//! WebSocket frames (RFC 6455) read back from a relayed byte stream, one direction at a time: frame
//! headers, client masking, fragmentation, interleaved control frames, and permessage-deflate
//! (RFC 7692) with or without context takeover. The relay itself never parses: it forwards bytes
//! and hands copies here, on the writer thread.

use flate2::{Decompress, FlushDecompress};

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

/// Bound on one message: a peer cannot make the recorder allocate without limit.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub(crate) struct FrameReader {
    buf: Vec<u8>,
    /// The message being reassembled from fragments: (opcode, compressed, payload so far).
    partial: Option<(u8, bool, Vec<u8>)>,
    inflater: Option<Inflater>,
    /// Set when the stream stopped making sense; everything after it is ignored.
    broken: Option<String>,
}

struct Inflater {
    decompress: Decompress,
    /// `*_no_context_takeover`: the window resets after every message.
    reset_each_message: bool,
}

impl FrameReader {
    /// `deflate`: permessage-deflate was negotiated; `no_context_takeover` for this direction.
    pub fn new(deflate: bool, no_context_takeover: bool) -> Self {
        let inflater = deflate.then(|| Inflater {
            decompress: Decompress::new(false),
            reset_each_message: no_context_takeover,
        });
        Self {
            buf: Vec::new(),
            partial: None,
            inflater,
            broken: None,
        }
    }

    /// Why parsing stopped, if it did.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Feeds bytes as they were relayed; complete messages are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) {
        if self.broken.is_some() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        while let Some(FrameHeader {
            header_len,
            payload_len,
            fin,
            rsv1,
            opcode,
            mask,
        }) = parse_header(&self.buf[at..])
        {
            let total = header_len + payload_len;
            if payload_len > MAX_MESSAGE {
                self.broken = Some(format!(
                    "frame of {payload_len} bytes is over the recorder's limit"
                ));
                return;
            }
            if self.buf.len() - at < total {
                break;
            }
            let mut payload = self.buf[at + header_len..at + total].to_vec();
            if let Some(key) = mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= key[i % 4];
                }
            }
            at += total;
            if let Err(why) = self.frame(fin, rsv1, opcode, payload, out) {
                self.broken = Some(why);
                return;
            }
        }
        self.buf.drain(..at);
    }

    fn frame(
        &mut self,
        fin: bool,
        rsv1: bool,
        opcode: u8,
        payload: Vec<u8>,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        match opcode {
            0x8 => {
                out.push(Message::Close);
                return Ok(());
            }
            0x9 | 0xA => return Ok(()), // ping, pong
            0x0 => {
                let (_, _, so_far) = self
                    .partial
                    .as_mut()
                    .ok_or("continuation without a message")?;
                if so_far.len() + payload.len() > MAX_MESSAGE {
                    return Err("message over the recorder's limit".into());
                }
                so_far.extend_from_slice(&payload);
            }
            0x1 | 0x2 => {
                if self.partial.is_some() {
                    return Err("new message before the previous one ended".into());
                }
                self.partial = Some((opcode, rsv1, payload));
            }
            other => return Err(format!("unknown opcode {other:#x}")),
        }
        if !fin {
            return Ok(());
        }
        let Some((opcode, compressed, data)) = self.partial.take() else {
            return Ok(());
        };
        let data = if compressed {
            self.inflate(&data)?
        } else {
            data
        };
        out.push(match opcode {
            0x1 => Message::Text(String::from_utf8_lossy(&data).into_owned()),
            _ => Message::Binary(data),
        });
        Ok(())
    }

    fn inflate(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        let inflater = self
            .inflater
            .as_mut()
            .ok_or("compressed frame without permessage-deflate")?;
        // RFC 7692 §7.2.2: the sender stripped the final empty block's tail; put it back.
        let mut input = Vec::with_capacity(data.len() + 4);
        input.extend_from_slice(data);
        input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let mut output = Vec::with_capacity(data.len() * 4 + 64);
        let mut consumed = 0;
        loop {
            let (before_in, before_out) = (
                inflater.decompress.total_in(),
                inflater.decompress.total_out(),
            );
            inflater
                .decompress
                .decompress_vec(&input[consumed..], &mut output, FlushDecompress::Sync)
                .map_err(|e| format!("inflate: {e}"))?;
            consumed += (inflater.decompress.total_in() - before_in) as usize;
            let progressed = inflater.decompress.total_in() != before_in
                || inflater.decompress.total_out() != before_out;
            if output.len() > MAX_MESSAGE {
                return Err("inflated message over the recorder's limit".into());
            }
            // A full output buffer may hide more pending output even when all input is consumed.
            if output.len() == output.capacity() {
                output.reserve(output.capacity().max(4096));
                continue;
            }
            if consumed >= input.len() || !progressed {
                break;
            }
        }
        if inflater.reset_each_message {
            inflater.decompress.reset(false);
        }
        Ok(output)
    }
}

struct FrameHeader {
    header_len: usize,
    payload_len: usize,
    fin: bool,
    /// Set on the first frame of a compressed message (permessage-deflate).
    rsv1: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
}

/// The frame header, once all of it is there.
fn parse_header(b: &[u8]) -> Option<FrameHeader> {
    if b.len() < 2 {
        return None;
    }
    let (fin, rsv1, opcode) = (b[0] & 0x80 != 0, b[0] & 0x40 != 0, b[0] & 0x0F);
    let masked = b[1] & 0x80 != 0;
    let (mut len, mut at) = ((b[1] & 0x7F) as usize, 2);
    if len == 126 {
        len = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?) as usize;
        at = 4;
    } else if len == 127 {
        len = usize::try_from(u64::from_be_bytes(b.get(2..10)?.try_into().ok()?))
            .unwrap_or(usize::MAX);
        at = 10;
    }
    let mask = if masked {
        let key: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    Some(FrameHeader {
        header_len: at,
        payload_len: len,
        fin,
        rsv1,
        opcode,
        mask,
    })
}

/// What `sec-websocket-extensions` on the 101 says: (deflate, client no-context-takeover,
/// server no-context-takeover).
pub(crate) fn negotiated_deflate(extensions: Option<&str>) -> (bool, bool, bool) {
    let Some(ext) = extensions else {
        return (false, false, false);
    };
    let Some(deflate) = ext
        .split(',')
        .map(str::trim)
        .find(|e| e.starts_with("permessage-deflate"))
    else {
        return (false, false, false);
    };
    let params: Vec<&str> = deflate.split(';').map(str::trim).collect();
    (
        true,
        params.contains(&"client_no_context_takeover"),
        params.contains(&"server_no_context_takeover"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![(fin as u8) << 7 | (rsv1 as u8) << 6 | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(m | n as u8),
            n if n < 65536 => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn masked_fragmented_and_split_at_every_byte() {
        let text = r#"{"type":"response.create","input":"héllo ☀"}"#;
        let mut wire = frame(
            false,
            false,
            0x1,
            &text.as_bytes()[..10],
            Some([1, 2, 3, 4]),
        );
        wire.extend(frame(true, false, 0x9, b"ping", Some([9, 9, 9, 9])));
        wire.extend(frame(
            true,
            false,
            0x0,
            &text.as_bytes()[10..],
            Some([5, 6, 7, 8]),
        ));
        wire.extend(frame(true, false, 0x1, &vec![b'x'; 70_000], None));
        let mut reader = FrameReader::new(false, false);
        let mut out = Vec::new();
        for b in &wire {
            reader.feed(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out.len(), 2, "{:?}", reader.broken());
        assert_eq!(out[0], Message::Text(text.into()));
        assert_eq!(out[1], Message::Text("x".repeat(70_000)));
    }

    #[test]
    fn permessage_deflate_with_and_without_context_takeover() {
        for no_takeover in [false, true] {
            let mut c = Compress::new(Compression::default(), false);
            // The last one inflates to far more than the first output buffer holds.
            let big = format!("{{\"output\":\"{}\"}}", "lunaroute-tool-ok ".repeat(20_000));
            let messages = [
                r#"{"type":"response.created"}"#,
                r#"{"type":"response.created","more":1}"#,
                "third",
                big.as_str(),
            ];
            let mut wire = Vec::new();
            for m in messages {
                wire.extend(frame(true, true, 0x1, &deflate(&mut c, m.as_bytes()), None));
                if no_takeover {
                    c.reset();
                }
            }
            let mut reader = FrameReader::new(true, no_takeover);
            let mut out = Vec::new();
            reader.feed(&wire, &mut out);
            let texts: Vec<_> = out
                .iter()
                .map(|m| match m {
                    Message::Text(t) => t.as_str(),
                    _ => "",
                })
                .collect();
            assert_eq!(texts, messages, "no_context_takeover={no_takeover}");
        }
    }

    #[test]
    fn garbage_stops_parsing_without_panicking() {
        let mut reader = FrameReader::new(false, false);
        let mut out = Vec::new();
        // A continuation frame with no message before it.
        reader.feed(&[0x80, 0x03, b'a', b'b', b'c'], &mut out);
        assert!(reader.broken().is_some());
        reader.feed(&frame(true, false, 0x1, b"ignored", None), &mut out);
        assert!(out.is_empty());
        assert_eq!(
            negotiated_deflate(Some("permessage-deflate; client_no_context_takeover")),
            (true, true, false)
        );
        assert_eq!(negotiated_deflate(None), (false, false, false));
    }
}
