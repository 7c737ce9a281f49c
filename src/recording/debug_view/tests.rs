//! The debug stream view driven by the real fixtures in `tests/fixtures`, read in pieces of every
//! size: the lines it prints for each dialect, streamed and as JSON, and what it prints for cut
//! streams, errors and compressed answers.

use super::lines::{cut_previews, tool_line, ARGUMENTS_CHARS};
use super::*;
use crate::recording::fixture;

const ANTHROPIC_REQUEST: &str = r#"{"model":"claude-sonnet-4-6","stream":true,"max_tokens":1024,
  "tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"Read","input_schema":{}}],
  "messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":"ok"},
  {"role":"user","content":"and now?"}]}"#;

/// The response head a test sends: status, event stream or not, content-encoding.
type Head<'a> = (u16, bool, Option<&'a str>);

/// One exchange through a `View`: the request in two pieces, the response head, the body `chunk`
/// bytes at a time, the end. Returns every line, and how many came before the end phase.
fn run(
    path: &str,
    request: &str,
    (status, sse, encoding): Head<'_>,
    response: &[u8],
    chunk: usize,
    end: End,
) -> (Vec<String>, usize) {
    let provider = if path.starts_with("/v1/messages") {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    };
    let mut view = View::new(7, provider, "POST", path, None);
    let (first, second) = request.as_bytes().split_at(request.len() / 2);
    view.request_chunk(first);
    view.request_chunk(second);
    let mut lines = view.request_end();
    lines.extend(view.response_head(status, sse, encoding.map(str::to_string)));
    for piece in response.chunks(chunk.max(1)) {
        lines.extend(view.response_chunk(piece));
    }
    let streamed = lines.len();
    lines.extend(view.finish(&end));
    (lines, streamed)
}

fn sse(path: &str, request: &str, body: &[u8], chunk: usize) -> (Vec<String>, usize) {
    run(path, request, (200, true, None), body, chunk, End::Done)
}

#[test]
fn anthropic_stream_thinking_then_tool_call() {
    let body = fixture("anthropic/thinking_tool.sse");
    let expected = [
        "#7 request anthropic POST /v1/messages model=claude-sonnet-4-6 messages=3 streaming=yes tools=2",
        "#7 thinking 104 chars",
        r#"#7 tool get_weather {"city":"Paris","unit":"celsius"}"#,
        "#7 usage in=1893 out=142 cache_read=14336 cache_write=0 thinking=0 stop=tool_use",
    ];
    for chunk in [1, 7, 64, body.len()] {
        let (lines, streamed) = sse("/v1/messages", ANTHROPIC_REQUEST, &body, chunk);
        assert_eq!(lines, expected, "read {chunk} bytes at a time");
        // The blocks were shown as they finished, before the end phase.
        assert_eq!(streamed, 3);
    }
}

#[test]
fn anthropic_stream_text() {
    let body = fixture("anthropic/messages_text.sse");
    let (lines, _) = sse("/v1/messages", ANTHROPIC_REQUEST, &body, 5);
    assert_eq!(
        lines[1..],
        [
            "#7 text \"The weather in Paris is 18°C and sunny.\"",
            "#7 usage in=498 out=19 cache_read=11776 cache_write=0 thinking=0 stop=end_turn",
        ]
    );
}

#[test]
fn chat_completions_stream_tool_call_and_final_usage_chunk() {
    let request = r#"{"model":"gpt-5.4-mini","stream":true,"stream_options":{"include_usage":true},
      "messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}"#;
    let body = fixture("openai/chat_tool.sse");
    for chunk in [3, body.len()] {
        let (lines, streamed) = sse("/v1/chat/completions", request, &body, chunk);
        assert_eq!(
            lines,
            [
                "#7 request openai POST /v1/chat/completions model=gpt-5.4-mini messages=1 streaming=yes tools=1",
                r#"#7 tool get_weather {"city":"Paris","unit":"celsius"}"#,
                "#7 usage in=296 out=88 cache_read=1024 cache_write=0 thinking=64 stop=tool_calls",
            ]
        );
        assert_eq!(streamed, 2, "the call is shown at its finish_reason");
    }
    let (lines, _) = sse(
        "/v1/chat/completions",
        request,
        &fixture("openai/chat_text.sse"),
        9,
    );
    assert!(lines[1].starts_with("#7 text \""), "{lines:?}");
    assert!(lines[2].ends_with("stop=stop"), "{lines:?}");
}

#[test]
fn responses_stream_reasoning_tool_call_and_text() {
    let request = r#"{"model":"gpt-5.4-mini","stream":true,"input":[{"role":"user","content":"Weather?"},
      {"type":"function_call_output","call_id":"c1","output":"18C"}],"tools":[{"type":"function","name":"get_weather"}]}"#;
    let (lines, streamed) = sse(
        "/v1/responses",
        request,
        &fixture("openai/responses_tool.sse"),
        11,
    );
    assert_eq!(
        lines,
        [
            "#7 request openai POST /v1/responses model=gpt-5.4-mini messages=2 streaming=yes tools=1 tool_results=1",
            "#7 thinking (no summary)",
            r#"#7 tool get_weather {"city":"Paris","unit":"celsius"}"#,
            "#7 usage in=296 out=88 cache_read=1024 cache_write=0 thinking=64 stop=completed",
        ]
    );
    assert_eq!(streamed, 3);
    let (lines, _) = sse(
        "/v1/responses",
        request,
        &fixture("openai/responses_text.sse"),
        11,
    );
    assert!(
        lines.contains(&"#7 text \"The weather in Paris is 18°C and sunny.\"".to_string()),
        "{lines:?}"
    );
}

#[test]
fn json_answers_are_read_at_the_end() {
    let (lines, streamed) = run(
        "/v1/messages",
        r#"{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}]}"#,
        (200, false, None),
        &fixture("anthropic/messages_tool.json"),
        10,
        End::Done,
    );
    assert_eq!(streamed, 1);
    assert_eq!(
        lines,
        [
            "#7 request anthropic POST /v1/messages model=claude-sonnet-4-6 messages=1 streaming=no tools=0",
            "#7 text \"I'll check the current weather in Paris for you ☀️\"",
            r#"#7 tool get_weather {"city":"Paris","unit":"celsius"}"#,
            "#7 usage in=412 out=71 cache_read=10240 cache_write=1536 thinking=0 stop=tool_use",
        ]
    );

    // A gzip answer is decoded first.
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&fixture("openai/chat_tool.json")).unwrap();
    let body = gz.finish().unwrap();
    let (lines, _) = run(
        "/v1/chat/completions",
        "{}",
        (200, false, Some("gzip")),
        &body,
        100,
        End::Done,
    );
    assert_eq!(
        lines,
        [
            "#7 request openai POST /v1/chat/completions model=- messages=0 streaming=no tools=0",
            r#"#7 tool get_weather {"city":"Paris","unit":"celsius"}"#,
            "#7 usage in=296 out=88 cache_read=1024 cache_write=0 thinking=64 stop=tool_calls",
        ]
    );
}

#[test]
fn errors_and_cut_streams_show_what_there_was() {
    let (lines, _) = run(
        "/v1/messages",
        ANTHROPIC_REQUEST,
        (429, false, None),
        &fixture("anthropic/error_429.json"),
        64,
        End::Done,
    );
    assert!(
        lines[1].starts_with("#7 error status=429 rate_limit_error: This request would exceed"),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with('…') && lines[1].chars().count() < 220,
        "{}",
        lines[1]
    );

    // An `error` event after a 200, the text block never closed, then the provider hung up.
    let body = fixture("anthropic/overloaded_after_200.sse");
    let end = End::UpstreamFailed("connection reset".into());
    let (lines, _) = run(
        "/v1/messages",
        ANTHROPIC_REQUEST,
        (200, true, None),
        &body,
        13,
        end,
    );
    assert_eq!(
        lines[1..],
        [
            "#7 thinking (redacted)",
            "#7 text \"Partial answer, then the provider \"",
            "#7 error status=200 overloaded_error: Overloaded",
            "#7 usage in=120 out=1 cache_read=0 cache_write=0 thinking=0 stop=- outcome=upstream_failed",
        ]
    );

    // The client went away before any response.
    let mut view = View::new(3, Provider::Anthropic, "POST", "/v1/messages", None);
    view.request_chunk(ANTHROPIC_REQUEST.as_bytes());
    let lines = view.finish(&End::Cancelled);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].ends_with("stop=- outcome=client_disconnected"),
        "{lines:?}"
    );
}

/// An Anthropic stream of one text block holding `text` in a single delta.
fn one_text_block(text: &str) -> String {
    let event = serde_json::json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": text}});
    format!(
        "event: content_block_start\ndata: {}\n\nevent: content_block_delta\ndata: {event}\n\n\
         event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
    )
}

#[test]
fn previews_are_one_bounded_line() {
    let long: String = "line one\nline two\r\n\ttabbed ".repeat(20);
    let body = one_text_block(&long);
    let (lines, _) = sse("/v1/messages", "{}", body.as_bytes(), 17);
    let text = &lines[1];
    assert!(
        text.starts_with("#7 text \"line one⏎line two⏎ tabbed line one⏎"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("…\" ({} chars)", long.chars().count())),
        "{text}"
    );
    assert!(!text.contains(['\n', '\r', '\t']));

    let big = "x".repeat(500);
    let line = cut_previews(&tool_line(
        "tool",
        "Write",
        &serde_json::json!({"content": big}),
    ));
    assert_eq!(
        line.chars().count(),
        "tool Write ".len() + ARGUMENTS_CHARS + 1
    );
}

#[test]
fn compressed_request_and_stream_are_decoded() {
    let request = zstd::encode_all(ANTHROPIC_REQUEST.as_bytes(), 0).unwrap();
    let mut view = View::new(
        9,
        Provider::Anthropic,
        "POST",
        "/v1/messages",
        Some("zstd".into()),
    );
    view.request_chunk(&request);
    let lines = view.request_end();
    assert!(
        lines[0].contains("model=claude-sonnet-4-6 messages=3"),
        "{lines:?}"
    );

    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&fixture("anthropic/messages_text.sse"))
        .unwrap();
    let body = gz.finish().unwrap();
    let (lines, streamed) = run(
        "/v1/messages",
        "{}",
        (200, true, Some("gzip")),
        &body,
        50,
        End::Done,
    );
    assert_eq!(streamed, 1, "an encoded stream is read at the end");
    assert_eq!(
        lines[1],
        "#7 text \"The weather in Paris is 18°C and sunny.\""
    );
}

#[test]
fn a_body_less_request_still_gets_its_line() {
    let mut view = View::new(4, Provider::OpenAi, "GET", "/v1/models", None);
    let mut lines = view.response_head(200, false, None);
    lines.extend(view.response_chunk(&fixture("openai/models.json")));
    lines.extend(view.finish(&End::Done));
    assert_eq!(
        lines,
        [
            "#4 request openai GET /v1/models",
            "#4 usage in=0 out=0 cache_read=0 cache_write=0 thinking=0 stop=-",
        ]
    );
}

/// A key or an address that the 160-character preview cuts in two is still redacted whole: the
/// line is redacted before its previews are cut.
#[test]
fn a_value_cut_by_the_preview_is_redacted_whole() {
    let home = std::env::temp_dir();
    let mut cfg = crate::config::PiiConfig {
        enabled: true,
        ..Default::default()
    };
    cfg.detect_email = true;
    let Some(redactor) = crate::features::pii::Redactor::from_config(&cfg, &home, None)
        .unwrap()
        .map(Arc::new)
    else {
        // Only a build without `pii` has nothing to redact with.
        if crate::features::pii::COMPILED {
            panic!("a build with pii built no redactor");
        }
        return;
    };
    let key = "sk-ant-api03-Hh7Jk9Lm2Nn4Pp6Qq8Rr0Ss2Tt4Uu6Vv8Ww0Xx2Yy4Zz6Aa8Bb0Cc2Dd4Ee6Ff8Gg0";
    for (lead, value, placeholder) in [
        (150, key, "[SECRET:anthropic_key]"),
        (155, "alice.liddell@example.com", "[EMAIL]"),
    ] {
        let text = format!("{} {value} and more", "a".repeat(lead));
        let body = one_text_block(&text);
        let mut view = View::new(7, Provider::Anthropic, "POST", "/v1/messages", None);
        view.pii = Some(redactor.clone());
        let mut lines = view.request_end();
        lines.extend(view.response_head(200, true, None));
        lines.extend(view.response_chunk(body.as_bytes()));
        lines.extend(view.finish(&End::Done));
        let shown = lines.join("\n");
        // Four characters of each fit before the cut at 160.
        assert!(
            !shown.contains(&value[..4]),
            "{value} leaked its start: {shown}"
        );
        assert!(shown.contains(&placeholder[..4]), "{shown}");
        assert!(shown.contains(&format!("({} chars)", text.chars().count())));
    }
}
