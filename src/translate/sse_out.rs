//! Writing client-side SSE frames (shared by the chat and responses stream translators): Anthropic
//! frames are `event: NAME\ndata: JSON\n\n`, Chat frames `data: JSON\n\n` and the closing
//! `data: [DONE]\n\n`. JSON is serialized compactly (one `data:` line; serde_json never emits raw
//! newlines inside a compact document).

use serde_json::Value;

/// One Anthropic event; `name` is also the `type` inside `data` by the caller's construction.
pub(crate) fn anthropic(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// One Chat Completions chunk (or error object).
pub(crate) fn chat(out: &mut Vec<u8>, data: &Value) {
    out.extend_from_slice(b"data: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// The Chat stream's terminator.
pub(crate) fn chat_done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

fn write_json(out: &mut Vec<u8>, data: &Value) {
    // Serializing a `Value` into a Vec cannot fail (no I/O, keys are strings); fall back to `null`
    // rather than panic on the request path.
    if serde_json::to_writer(&mut *out, data).is_err() {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_have_the_wire_shape() {
        let mut out = Vec::new();
        anthropic(&mut out, "ping", &json!({"type": "ping"}));
        chat(&mut out, &json!({"a": "x\ny"}));
        chat_done(&mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "event: ping\ndata: {\"type\":\"ping\"}\n\ndata: {\"a\":\"x\\ny\"}\n\ndata: [DONE]\n\n"
        );
    }
}
