//! For the request log line only: whether the event stream a client received carried an error
//! event (Anthropic `event: error`, OpenAI Chat `{"error":…}`, Responses `"type":"error"` or
//! `response.failed`), so a 200 that ended in `overloaded_error` does not log `outcome=ok`.
//! A plain byte search over each chunk and across chunk boundaries, run only with
//! `log_requests` on; the recorder parses the stream properly, off the request path.
//!
//! JSON escapes quotes and newlines inside a string, so these markers cannot come from content
//! (a model writing `"type":"error"` is sent as `\"type\":\"error\"`, and `event: error` only
//! counts at the start of a line).

const MARKERS: &[&[u8]] = &[
    b"\nevent: error",
    b"\"type\":\"error\"",
    b"{\"error\":",
    b"\"type\":\"response.failed\"",
];
/// The longest marker: how much of the stream's end is kept to find one split across chunks.
const LONGEST: usize = 26;

pub(crate) struct ErrorEvents {
    /// The last bytes seen, for a marker split across two chunks.
    carry: Vec<u8>,
    pub seen: bool,
}

impl Default for ErrorEvents {
    fn default() -> Self {
        // The stream starts at the start of a line.
        Self {
            carry: b"\n".to_vec(),
            seen: false,
        }
    }
}

impl ErrorEvents {
    pub fn feed(&mut self, data: &[u8]) {
        if self.seen || data.is_empty() {
            return;
        }
        // A marker split across chunks: the end of what came before, joined to this chunk's head.
        let head = &data[..data.len().min(LONGEST)];
        self.carry.extend_from_slice(head);
        self.seen = MARKERS
            .iter()
            .any(|m| contains(data, m) || contains(&self.carry, m));
        // Keep the last LONGEST bytes of the stream (a short chunk was all of `head`).
        if data.len() > head.len() {
            self.carry.clear();
            self.carry.extend_from_slice(&data[data.len() - LONGEST..]);
        } else {
            let excess = self.carry.len().saturating_sub(LONGEST);
            self.carry.drain(..excess);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sees(chunks: &[&[u8]]) -> bool {
        let mut events = ErrorEvents::default();
        chunks.iter().for_each(|c| events.feed(c));
        events.seen
    }

    #[test]
    fn finds_each_dialects_error_event_whole_or_split_anywhere() {
        assert!(
            MARKERS.iter().all(|m| m.len() <= LONGEST),
            "LONGEST is the longest"
        );
        let streams: [&[u8]; 3] = [
            b"event: message_start\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n",
            b"data: {\"id\":\"c1\",\"choices\":[]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
            b"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{}}\n\n",
        ];
        for stream in streams {
            assert!(sees(&[stream]));
            for cut in 1..stream.len() {
                assert!(sees(&[&stream[..cut], &stream[cut..]]), "cut at {cut}");
            }
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert!(sees(&bytes), "one byte at a time");
        }
    }

    #[test]
    fn text_about_errors_is_not_an_error_event() {
        let quoted = br#"data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"the API sent \"type\":\"error\" and {\"error\": ...}\nevent: error"}}"#;
        assert!(!sees(&[quoted]));
        assert!(!sees(&[
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        ]));
    }
}
