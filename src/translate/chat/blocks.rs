//! Content-block scheduling for Chat SSE -> Anthropic SSE. A Chat stream may interleave the
//! deltas of parallel tool calls (by `tool_calls[].index`) and text; an Anthropic stream shows one
//! block at a time (`content_block_start` … deltas … `content_block_stop`), with indices from one
//! counter. So exactly one source (the text, or one tool call) is *active* and streams live; a
//! delta for another source is buffered until the active one can be closed:
//! - text can always be closed (more text later simply opens a new text block);
//! - a tool call can be closed once its arguments form a complete JSON value (a small scanner
//!   tracks depth, strings and escapes across deltas, so splits mid-string or mid-escape are
//!   fine): no valid stream can add to it after that.
//!
//! OpenAI's own sequential parallel calls therefore stream live one after the other; truly
//! interleaved calls stream the first live and the others when it completes (or at the finish).
//! A tool block always starts with `input: {}`; its arguments come only as `input_json_delta`,
//! and a call that never sent any gets one `"{}"` delta (F17).

use super::response::synthetic_tool_id;
use crate::translate::sse_out;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Text,
    Tool(usize),
}

#[derive(Default)]
struct Tool {
    /// `tool_calls[].index`, when the provider sent one.
    chat_index: Option<u64>,
    id: String,
    name: String,
    /// Arguments received while the call was waiting.
    buffered: String,
    sent_args: bool,
    scan: JsonScan,
    closed: bool,
}

pub(super) struct Blocks {
    next_index: u64,
    /// The open block: its source and Anthropic index.
    active: Option<(Source, u64)>,
    /// Sources with buffered content, in the order they first arrived.
    waiting: Vec<Source>,
    text_buffer: String,
    tools: Vec<Tool>,
    /// The provider's completion id, for tool ids a provider left out.
    provider_id: Option<Value>,
}

// === impl Blocks ===

impl Blocks {
    pub(super) fn new() -> Self {
        Self {
            next_index: 0,
            active: None,
            waiting: Vec::new(),
            text_buffer: String::new(),
            tools: Vec::new(),
            provider_id: None,
        }
    }

    pub(super) fn set_provider_id(&mut self, id: Option<&Value>) {
        self.provider_id = id.cloned();
    }

    pub(super) fn saw_tool_calls(&self) -> bool {
        !self.tools.is_empty()
    }

    pub(super) fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        if let Some((Source::Text, index)) = self.active {
            text_delta(index, text, out);
        } else if self.can_switch() {
            self.close_active(out);
            self.text_buffer.push_str(text);
            self.waiting.retain(|s| *s != Source::Text);
            self.open(Source::Text, out);
        } else {
            self.text_buffer.push_str(text);
            self.wait(Source::Text);
        }
    }

    /// One entry of `delta.tool_calls`. Err: the provider broke the protocol (arguments after a
    /// call's JSON was complete and its block closed).
    pub(super) fn tool(&mut self, call: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        let p = self.slot(call);
        let tool = &mut self.tools[p];
        if let Some(id) = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            if tool.id.is_empty() {
                tool.id = id.to_string();
            }
        }
        if let Some(name) = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            if tool.name.is_empty() {
                tool.name = name.to_string();
            }
        }
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        if tool.closed {
            return if args.trim().is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the provider sent more arguments for tool call `{}` after they were complete",
                    tool.id
                ))
            };
        }
        let named = !tool.name.is_empty();
        if self.active.is_some_and(|(s, _)| s == Source::Tool(p)) {
            self.tool_args(p, args, out);
        } else if named && self.can_switch() {
            self.tools[p].buffered.push_str(args);
            self.close_active(out);
            self.waiting.retain(|s| *s != Source::Tool(p));
            self.open(Source::Tool(p), out);
        } else {
            self.tools[p].buffered.push_str(args);
            self.wait(Source::Tool(p));
            return Ok(());
        }
        self.promote(out);
        Ok(())
    }

    /// The provider finished: close the open block and emit what waits, in arrival order.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        self.close_active(out);
        for source in std::mem::take(&mut self.waiting) {
            if let Source::Tool(p) = source {
                if self.tools[p].name.is_empty() {
                    return Err("the provider sent a tool call without a function name".into());
                }
            }
            self.open(source, out);
            self.close_active(out);
        }
        Ok(())
    }

    /// Finds the call this delta belongs to: by `index`, else (servers that omit it) by `id`,
    /// else the latest call — unless this delta names a function and the latest call already has
    /// a name: then it is a new call (servers that send whole calls without index or id).
    fn slot(&mut self, call: &Value) -> usize {
        let index = call.get("index").and_then(Value::as_u64);
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let named = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let found = match (index, id) {
            (Some(i), _) => self.tools.iter().position(|t| t.chat_index == Some(i)),
            (None, Some(id)) => self.tools.iter().position(|t| t.id == id),
            (None, None) => match self.tools.last() {
                Some(last) if named && !last.name.is_empty() => None,
                _ => self.tools.len().checked_sub(1),
            },
        };
        found.unwrap_or_else(|| {
            self.tools.push(Tool {
                chat_index: index,
                ..Tool::default()
            });
            self.tools.len() - 1
        })
    }

    fn can_switch(&self) -> bool {
        match self.active {
            None | Some((Source::Text, _)) => true,
            Some((Source::Tool(p), _)) => self.tools[p].scan.complete,
        }
    }

    fn wait(&mut self, source: Source) {
        if !self.waiting.contains(&source) {
            self.waiting.push(source);
        }
    }

    /// While the active call is complete, hand over to the next waiting source that can start.
    fn promote(&mut self, out: &mut Vec<u8>) {
        while self.can_switch() && matches!(self.active, Some((Source::Tool(_), _))) {
            let startable = |s: &Source| match s {
                Source::Text => true,
                Source::Tool(p) => !self.tools[*p].name.is_empty(),
            };
            let Some(pos) = self.waiting.iter().position(startable) else {
                return;
            };
            let next = self.waiting.remove(pos);
            self.close_active(out);
            self.open(next, out);
        }
    }

    fn open(&mut self, source: Source, out: &mut Vec<u8>) {
        let index = self.next_index;
        self.next_index += 1;
        self.active = Some((source, index));
        match source {
            Source::Text => {
                let block = json!({"type": "text", "text": ""});
                block_start(index, block, out);
                let text = std::mem::take(&mut self.text_buffer);
                text_delta(index, &text, out);
            }
            Source::Tool(p) => {
                let tool = &mut self.tools[p];
                if tool.id.is_empty() {
                    tool.id = synthetic_tool_id(self.provider_id.as_ref(), p);
                }
                let block =
                    json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}});
                block_start(index, block, out);
                let args = std::mem::take(&mut tool.buffered);
                self.tool_args(p, &args, out);
            }
        }
    }

    fn tool_args(&mut self, p: usize, args: &str, out: &mut Vec<u8>) {
        if args.is_empty() {
            return;
        }
        if let Some((_, index)) = self.active {
            let tool = &mut self.tools[p];
            tool.scan.feed(args);
            tool.sent_args = true;
            json_delta(index, args, out);
        }
    }

    fn close_active(&mut self, out: &mut Vec<u8>) {
        let Some((source, index)) = self.active.take() else {
            return;
        };
        if let Source::Tool(p) = source {
            let tool = &mut self.tools[p];
            if !tool.sent_args {
                // A zero-argument call whose arguments were "" assembles to `{}` (F17).
                json_delta(index, "{}", out);
            }
            tool.closed = true;
        }
        let stop = json!({"type": "content_block_stop", "index": index});
        sse_out::anthropic(out, "content_block_stop", &stop);
    }
}

fn block_start(index: u64, block: Value, out: &mut Vec<u8>) {
    let data = json!({"type": "content_block_start", "index": index, "content_block": block});
    sse_out::anthropic(out, "content_block_start", &data);
}

fn text_delta(index: u64, text: &str, out: &mut Vec<u8>) {
    if !text.is_empty() {
        let delta = json!({"type": "text_delta", "text": text});
        let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
        sse_out::anthropic(out, "content_block_delta", &data);
    }
}

fn json_delta(index: u64, partial: &str, out: &mut Vec<u8>) {
    let delta = json!({"type": "input_json_delta", "partial_json": partial});
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    sse_out::anthropic(out, "content_block_delta", &data);
}

/// Knows when a JSON text that arrives in pieces is one complete object or array. It reads
/// bytes, so a piece may end anywhere: inside a string, right after a backslash, between the
/// bytes of a character.
#[derive(Debug, Default)]
pub(super) struct JsonScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    pub(super) complete: bool,
}

impl JsonScan {
    pub(super) fn feed(&mut self, piece: &str) {
        for b in piece.bytes() {
            if self.complete {
                return;
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.complete = self.depth == 0;
                }
                _ => {}
            }
        }
    }
}
