//! Output items -> Anthropic content blocks, for the Responses stream translator. Responses
//! items may stream interleaved (parallel function calls); Anthropic blocks go one at a time. So
//! one item owns the open block and the others buffer until it is done; block indices come from
//! one counter in the order blocks start. Arguments are tracked per call so that `.done` events
//! add only what the deltas did not deliver (F18).

use super::super::sse_out;
use serde_json::{json, Value};

/// Every output item of one response and which of them holds the open block.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    /// Output items in arrival order (positions are stable; ordering uses `output_index`).
    items: Vec<Item>,
    /// Position of the item whose block is open.
    active: Option<usize>,
    next_block: u64,
    /// A function call was seen: the stop reason is `tool_use`.
    pub(super) saw_tool: bool,
}

#[derive(Debug)]
pub(super) enum ItemKind {
    Text,
    Tool {
        call_id: String,
        name: String,
    },
    /// Reasoning, built-in tool calls and unknown items: nothing reaches the client.
    Skip,
}

#[derive(Debug)]
struct Item {
    output_index: u64,
    item_id: Option<String>,
    kind: ItemKind,
    /// The Anthropic block index, once the block has started.
    block: Option<u64>,
    /// Accepted content not yet sent (the block is not open yet).
    pending: String,
    /// All accepted content (text or arguments), sent or pending.
    accepted: String,
    /// Text: content parts that delivered text (their `.done` must not repeat it).
    parts_seen: Vec<u64>,
    done: bool,
    closed: bool,
}

// === impl Blocks ===

impl Blocks {
    pub(super) fn kind(&self, pos: usize) -> &ItemKind {
        &self.items[pos].kind
    }

    /// Marks a text part as having delivered text; false if it already had.
    pub(super) fn first_text_of_part(&mut self, pos: usize, content_index: u64) -> bool {
        let seen = &mut self.items[pos].parts_seen;
        if seen.contains(&content_index) {
            return false;
        }
        seen.push(content_index);
        true
    }

    pub(super) fn nothing_accepted(&self, pos: usize) -> bool {
        self.items[pos].accepted.is_empty()
    }

    /// Opens `pos`'s block if no other block is open.
    pub(super) fn open_if_free(&mut self, pos: usize, out: &mut Vec<u8>) {
        if self.active.is_none() {
            self.activate(pos, out);
        }
    }

    /// The response ended: close the open block, then every remaining item in output order.
    pub(super) fn close_all(&mut self, out: &mut Vec<u8>) {
        for item in &mut self.items {
            item.done = true;
        }
        if let Some(pos) = self.active {
            self.close(pos, out);
        }
        self.advance(out);
    }

    pub(super) fn find(&self, output_index: Option<u64>, item_id: Option<&str>) -> Option<usize> {
        match output_index {
            Some(i) => self.items.iter().position(|it| it.output_index == i),
            None => item_id.and_then(|id| {
                self.items
                    .iter()
                    .position(|it| it.item_id.as_deref() == Some(id))
            }),
        }
    }

    /// The item an `output_item.added/done` event describes, created on first sight; a function
    /// call's id and name fill in if an earlier event lacked them.
    pub(super) fn item(&mut self, output_index: Option<u64>, item: &Value) -> usize {
        let item_id = item.get("id").and_then(Value::as_str);
        let kind = match item.get("type").and_then(Value::as_str) {
            Some("message") => ItemKind::Text,
            Some("function_call") => {
                let call_id = item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .or(item_id)
                    .unwrap_or("");
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                ItemKind::Tool {
                    call_id: call_id.to_string(),
                    name: name.to_string(),
                }
            }
            _ => ItemKind::Skip,
        };
        match self.find(output_index, item_id) {
            Some(pos) => {
                if let (ItemKind::Tool { call_id, name }, ItemKind::Tool { .. }) =
                    (&kind, &self.items[pos].kind)
                {
                    if self.items[pos].block.is_none() {
                        self.items[pos].kind = ItemKind::Tool {
                            call_id: call_id.clone(),
                            name: name.clone(),
                        };
                    }
                }
                pos
            }
            None => self.push_item(output_index, item_id, kind),
        }
    }

    pub(super) fn text_item(&mut self, output_index: Option<u64>, item_id: Option<&str>) -> usize {
        match self.find(output_index, item_id) {
            Some(pos) => pos,
            None => self.push_item(output_index, item_id, ItemKind::Text),
        }
    }

    fn push_item(
        &mut self,
        output_index: Option<u64>,
        item_id: Option<&str>,
        kind: ItemKind,
    ) -> usize {
        self.saw_tool |= matches!(kind, ItemKind::Tool { .. });
        // Without an output_index, keep arrival order after every indexed item.
        let output_index = output_index.unwrap_or(u64::MAX / 2 + self.items.len() as u64);
        self.items.push(Item {
            output_index,
            item_id: item_id.map(str::to_string),
            kind,
            block: None,
            pending: String::new(),
            accepted: String::new(),
            parts_seen: Vec::new(),
            done: false,
            closed: false,
        });
        self.items.len() - 1
    }

    /// New content for an item: sent now if its block is (or can be) open, buffered otherwise.
    pub(super) fn accept(&mut self, pos: usize, text: &str, out: &mut Vec<u8>) {
        let item = &mut self.items[pos];
        if text.is_empty() || item.closed || matches!(item.kind, ItemKind::Skip) {
            return;
        }
        item.accepted.push_str(text);
        item.pending.push_str(text);
        match self.active {
            Some(active) if active == pos => self.send_pending(pos, out),
            Some(_) => {}
            None => self.activate(pos, out),
        }
    }

    /// `full` is the complete content (arguments from `.done` / `output_item.done`): accept only
    /// the part the deltas have not delivered (F18). If it does not extend what was sent, what was
    /// sent stands: a sent delta cannot be taken back.
    pub(super) fn complete_to(&mut self, pos: usize, full: &str, out: &mut Vec<u8>) {
        let accepted = &self.items[pos].accepted;
        if full.len() > accepted.len() && full.starts_with(accepted.as_str()) {
            let rest = full[accepted.len()..].to_string();
            self.accept(pos, &rest, out);
        }
    }

    fn activate(&mut self, pos: usize, out: &mut Vec<u8>) {
        let index = self.next_block;
        self.next_block += 1;
        let item = &mut self.items[pos];
        item.block = Some(index);
        let block = match &item.kind {
            ItemKind::Tool { call_id, name } => {
                json!({"type": "tool_use", "id": call_id, "name": name, "input": {}})
            }
            _ => json!({"type": "text", "text": ""}),
        };
        let start = json!({"type": "content_block_start", "index": index, "content_block": block});
        sse_out::anthropic(out, "content_block_start", &start);
        self.active = Some(pos);
        self.send_pending(pos, out);
    }

    fn send_pending(&mut self, pos: usize, out: &mut Vec<u8>) {
        let item = &mut self.items[pos];
        let (Some(index), false) = (item.block, item.pending.is_empty()) else {
            return;
        };
        let text = std::mem::take(&mut item.pending);
        let delta = match item.kind {
            ItemKind::Tool { .. } => json!({"type": "input_json_delta", "partial_json": text}),
            _ => json!({"type": "text_delta", "text": text}),
        };
        let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
        sse_out::anthropic(out, "content_block_delta", &event);
    }

    /// Closes an item's block (opening it first for a tool that never got content). Only called
    /// for the active item or when no block is open.
    fn close(&mut self, pos: usize, out: &mut Vec<u8>) {
        if self.items[pos].closed {
            return;
        }
        let is_tool = matches!(self.items[pos].kind, ItemKind::Tool { .. });
        if self.items[pos].block.is_none() {
            if !is_tool && self.items[pos].pending.is_empty() {
                // No text ever came: no empty block.
                self.items[pos].closed = true;
                return;
            }
            self.activate(pos, out);
        }
        if is_tool && self.items[pos].accepted.is_empty() {
            // A call without arguments assembles to `{}` (F17).
            self.items[pos].accepted.push_str("{}");
            self.items[pos].pending.push_str("{}");
            self.send_pending(pos, out);
        }
        let item = &mut self.items[pos];
        item.closed = true;
        let index = item.block.unwrap_or_default();
        let stop = json!({"type": "content_block_stop", "index": index});
        sse_out::anthropic(out, "content_block_stop", &stop);
        if self.active == Some(pos) {
            self.active = None;
        }
    }

    pub(super) fn done(&mut self, pos: usize, out: &mut Vec<u8>) {
        self.items[pos].done = true;
        match self.active {
            Some(active) if active == pos => {
                self.close(pos, out);
                self.advance(out);
            }
            None => self.advance(out),
            Some(_) => {}
        }
    }

    /// No block is open: open the next item that has something to say (lowest output index),
    /// closing it at once if it is already done; repeat.
    fn advance(&mut self, out: &mut Vec<u8>) {
        while self.active.is_none() {
            let next = self
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| !it.closed && !matches!(it.kind, ItemKind::Skip))
                .filter(|(_, it)| {
                    it.done || !it.pending.is_empty() || matches!(it.kind, ItemKind::Tool { .. })
                })
                .min_by_key(|(_, it)| it.output_index)
                .map(|(pos, _)| pos);
            let Some(pos) = next else { break };
            if self.items[pos].done {
                self.close(pos, out);
            } else {
                self.activate(pos, out);
            }
        }
    }
}
