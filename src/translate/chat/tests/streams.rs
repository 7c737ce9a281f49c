//! Stream fixtures, both directions: `NAME.sse` (provider stream) -> `NAME.expected.sse`. For a
//! Chat client, `NAME.expected.sse` is the output with `include_usage` asked and
//! `NAME.no_usage.expected.sse` without it (F16); each input has at least one of them.

use super::{
    assert_framing, cut_sets, diff_sse, inputs, name, parse_sse, read, run, sibling, view, Feed,
    ANTHROPIC_CLIENT_MODEL, CHAT_CLIENT_MODEL, CREATED,
};
use crate::translate::chat::{stream_to_anthropic::ToAnthropic, stream_to_chat::ToChat};
use crate::translate::{ClientView, Dialect, Stream};
use std::path::Path;

/// Runs one fixture whole and at every cut set; returns failures.
fn check<F: Feed>(make: impl Fn() -> F, input: &Path, expected: &Path) -> Vec<String> {
    let bytes = read(input);
    let label = name(expected);
    let whole = run(make(), &bytes, &[]);
    let events = parse_sse(&whole);
    assert_framing(&whole, &events);
    let want = parse_sse(&read(expected));
    let mut failures = Vec::new();
    if let Some(diff) = diff_sse(&events, &want) {
        failures.push(format!("{label}: {diff}"));
    }
    for (how, cuts) in cut_sets(&bytes) {
        if run(make(), &bytes, &cuts) != whole {
            failures.push(format!("{label}: output differs when fed {how}"));
        }
    }
    failures
}

#[test]
fn chat_streams_to_anthropic_client() {
    let cases = inputs("anthropic_client/stream", ".sse");
    let mut failures = Vec::new();
    for input in &cases {
        let make = || ToAnthropic::new(view(ANTHROPIC_CLIENT_MODEL, true, false));
        failures.extend(check(make, input, &sibling(input, ".expected.sse")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 14, "only {} fixtures", cases.len());
}

#[test]
fn anthropic_streams_to_chat_client() {
    let cases = inputs("chat_client/stream", ".sse");
    let mut failures = Vec::new();
    let mut runs = 0;
    for input in &cases {
        let mut found = 0;
        for (suffix, usage) in [(".expected.sse", true), (".no_usage.expected.sse", false)] {
            let expected = sibling(input, suffix);
            if expected.exists() {
                found += 1;
                let make = || ToChat::new(view(CHAT_CLIENT_MODEL, true, usage), CREATED);
                failures.extend(check(make, input, &expected));
            }
        }
        assert!(found > 0, "{} has no expected output", name(input));
        runs += found;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        cases.len() >= 7 && runs >= 10,
        "only {} fixtures, {runs} runs",
        cases.len()
    );
}

/// The public `Stream` dispatches to the same translator (no clock in this direction).
#[test]
fn public_stream_matches_the_fixture() {
    let input = Path::new(super::ROOT).join("anthropic_client/stream/parallel_interleaved.sse");
    let v = ClientView {
        model: ANTHROPIC_CLIENT_MODEL.into(),
        stream: true,
        include_usage: false,
    };
    let mut stream = Stream::new(Dialect::Anthropic, Dialect::Chat, v);
    let mut out = Vec::new();
    for piece in read(&input).chunks(5) {
        stream.push(piece, &mut out);
    }
    stream.finish(&mut out);
    let want = parse_sse(&read(&sibling(&input, ".expected.sse")));
    assert_eq!(diff_sse(&parse_sse(&out), &want), None);
}
