//! Incremental WHATWG event-stream parser, shared by the recorder, PII redaction and translation
//! (WIRE.md "SSE parsing rules"): bytes go in as the network delivered them, whole events come out. Lines end in LF, CRLF or a lone CR (a
//! CR ending one chunk and an LF starting the next are one line end); an empty line dispatches;
//! `field:value` splits on the first colon and drops one leading space; `data:` lines join with
//! `\n`; `:` lines are comments (counted, never parsed).
//!
//! Bytes are buffered up to a line end and only complete lines are decoded, so a UTF-8 character
//! split across reads is never cut (CR and LF cannot occur inside a multi-byte sequence). Invalid
//! UTF-8 becomes U+FFFD, as the spec says. Nothing here panics on any input.

/// One dispatched event. `id` is the stream's last event id (it persists across events, per spec).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of the line being read (no terminator yet).
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF opening the next chunk belongs to that line end.
    after_cr: bool,
    /// No line completed yet: a leading BOM is still to be stripped.
    at_start: bool,
    event: Option<String>,
    /// Data lines, each followed by `\n` (the last one is dropped at dispatch).
    data: String,
    last_id: Option<String>,
    /// A field line was seen since the last blank line.
    in_event: bool,
    comments: u64,
    events: u64,
    /// Set by `finish` when the stream ended inside an event.
    #[cfg_attr(not(test), allow(dead_code))]
    cut_at_finish: bool,
}

// === impl SseParser ===

impl SseParser {
    pub(crate) fn new() -> Self {
        Self {
            at_start: true,
            ..Self::default()
        }
    }

    /// Parses `chunk` and appends every event it completes to `out`. Chunks may be empty and may
    /// split lines, line ends and characters anywhere.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let is_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.end_line(out);
        }
        self.line.extend_from_slice(rest);
    }

    /// End of stream. Per spec an event without its closing blank line is discarded, so this never
    /// pushes to `out` (it takes it so every end is handled alike); `pending_partial()` then tells
    /// whether something was cut.
    #[cfg_attr(not(test), allow(dead_code))] // truncation and keep-alive reporting, not yet surfaced
    pub(crate) fn finish(&mut self, _out: &mut Vec<SseEvent>) {
        self.cut_at_finish = self.pending_partial();
        self.line = Vec::new();
        self.data = String::new();
        self.event = None;
        self.in_event = false;
        self.after_cr = false;
    }

    /// True when bytes of an event (a field line, or part of a line) arrived after the last
    /// dispatch: the stream was truncated if it ends here.
    #[cfg_attr(not(test), allow(dead_code))] // truncation and keep-alive reporting, not yet surfaced
    pub(crate) fn pending_partial(&self) -> bool {
        self.cut_at_finish || self.in_event || !self.line.is_empty()
    }

    /// Comment lines seen (`: ping`, keep-alives): activity that carries no event.
    #[cfg_attr(not(test), allow(dead_code))] // truncation and keep-alive reporting, not yet surfaced
    pub(crate) fn comments(&self) -> u64 {
        self.comments
    }

    /// Events dispatched so far.
    #[cfg_attr(not(test), allow(dead_code))] // truncation and keep-alive reporting, not yet surfaced
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let mut line = std::mem::take(&mut self.line);
        if self.at_start {
            self.at_start = false;
            if line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            self.dispatch(out);
        } else if line[0] == b':' {
            self.comments += 1;
        } else {
            self.in_event = true;
            let (name, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (&line[..], &[][..]),
            };
            self.field(name, value);
        }
        // Reuse the allocation for the next line.
        line.clear();
        self.line = line;
    }

    fn field(&mut self, name: &[u8], value: &[u8]) {
        let value = String::from_utf8_lossy(value);
        match name {
            b"event" => self.event = Some(value.into_owned()),
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
            }
            // An id containing NUL is ignored (spec).
            b"id" if !value.contains('\0') => self.last_id = Some(value.into_owned()),
            // `retry` and unknown fields carry nothing the recorder uses.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.in_event = false;
        let event = self.event.take().filter(|e| !e.is_empty());
        // No data line: the spec resets the buffers and dispatches nothing.
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the `\n` after the last data line
        self.events += 1;
        out.push(SseEvent {
            event,
            data,
            id: self.last_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        parser.finish(&mut out);
        (out, parser)
    }

    fn text_of(events: &[SseEvent]) -> String {
        events
            .iter()
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
            .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
            .collect()
    }

    const F1: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" world\"}}\n\n";

    #[test]
    fn f1_events_split_mid_json_and_one_byte_per_read() {
        let bytes = F1.as_bytes();
        // `…"te` | `xt":"Hello"}}\n\nevent: content_blo` | `ck_delta"…`
        let first_cut = F1.find("\"text\":\"Hello").map_or(0, |i| i + 3);
        let second_cut = F1.find("\n\nevent: content_blo").map_or(0, |i| i + 20);
        assert!(0 < first_cut && first_cut < second_cut);
        assert!(F1[..second_cut].ends_with("content_blo"));
        let (events, parser) = parse_chunks(&[
            &bytes[..first_cut],
            &bytes[first_cut..second_cut],
            &bytes[second_cut..],
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event.as_deref(), Some("content_block_delta"));
        assert_eq!(text_of(&events), "Hello world");
        assert!(!parser.pending_partial());

        let bytes_one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        let (events, _) = parse_chunks(&bytes_one_by_one);
        assert_eq!(events.len(), 2);
        assert_eq!(text_of(&events), "Hello world");
    }

    #[test]
    fn utf8_split_across_reads_is_decoded_whole() {
        let text = "data: {\"text\":\"18°C ☀️\"}\n\n".as_bytes();
        let one_by_one: Vec<&[u8]> = text.chunks(1).collect();
        let (events, _) = parse_chunks(&one_by_one);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "{\"text\":\"18°C ☀️\"}");
    }

    #[test]
    fn f2_line_endings_and_field_syntax() {
        let data = "{\"type\":\"message_stop\"}";
        for stream in [
            format!("event: message_stop\r\ndata: {data}\r\n\r\n"),
            format!("event: message_stop\rdata: {data}\r\r"),
            format!("event: message_stop\ndata: {data}\n\n"),
        ] {
            let (events, parser) = parse_chunks(&[stream.as_bytes()]);
            assert_eq!(events.len(), 1, "{stream:?}");
            assert_eq!(events[0].event.as_deref(), Some("message_stop"));
            assert_eq!(events[0].data, data);
            assert!(!parser.pending_partial());
        }

        // A CRLF cut between two reads is one line end, not a line end plus an empty line.
        let (events, _) = parse_chunks(&[b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n"]);
        assert_eq!(
            events,
            vec![SseEvent {
                event: Some("a".into()),
                data: "1".into(),
                id: None
            }]
        );

        let (events, _) = parse_chunks(&[b"event:ping\ndata:{\"type\":\"ping\"}\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        assert_eq!(events[0].data, "{\"type\":\"ping\"}");

        // OpenAI JSON over two data lines; only one leading space is dropped, later colons stay.
        let (events, _) = parse_chunks(&[
            b"data: {\"choices\":[],\n",
            b"data:  \"note\":\"a: b\"}\n\n",
        ]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, None);
        assert_eq!(events[0].data, "{\"choices\":[],\n \"note\":\"a: b\"}");
        let value: serde_json::Value = serde_json::from_str(&events[0].data).unwrap_or_default();
        assert_eq!(value["note"], "a: b");
    }

    #[test]
    fn f3_empty_read_comment_and_split_field_name() {
        let (events, parser) = parse_chunks(&[
            b"",
            b": ping - 1\n\n",
            b"ev",
            b"ent: message_start\ndata: {\"type\":\"message_start\"}\n\n",
        ]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_deref(), Some("message_start"));
        assert_eq!(events[0].data, "{\"type\":\"message_start\"}");
        assert_eq!(parser.comments(), 1);
        assert_eq!(parser.events(), 1);
    }

    #[test]
    fn trailing_event_without_blank_line_is_not_dispatched_but_noted() {
        let (events, parser) = parse_chunks(&[b"data: 1\n\ndata: 2\n"]);
        assert_eq!(events.len(), 1);
        assert!(parser.pending_partial());

        let (events, parser) = parse_chunks(&[b"data: 1\n\ndata: 2"]);
        assert_eq!(events.len(), 1);
        assert!(parser.pending_partial());
    }

    #[test]
    fn spec_details_bom_id_no_colon_and_data_less_events() {
        let (events, _) = parse_chunks(&[
            b"\xEF\xBB",
            b"\xBFid: 7\nevent: x\n\n", // no data: not dispatched
            b"data\n\n",                // a field with no colon: empty value
            b"data: z\nretry: 10\nfoo: bar\n\n",
            b"data: \xFF\n\n", // invalid UTF-8 is replaced, never a panic
        ]);
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0],
            SseEvent {
                event: None,
                data: String::new(),
                id: Some("7".into())
            }
        );
        assert_eq!(events[1].data, "z");
        assert_eq!(events[1].id.as_deref(), Some("7"));
        assert_eq!(events[2].data, "\u{FFFD}");
    }
}
