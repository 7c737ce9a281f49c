#!/usr/bin/env python3
"""Drive the official `anthropic` Python SDK through LunaRoute and check what it parsed.

Environment:
  LUNAROUTE_URL       base URL of the proxy, without /v1 (e.g. http://127.0.0.1:8081)
  LUNAROUTE_FIXTURES  optional, defaults to ../fixtures next to this file

The upstream behind the proxy is the mock provider that serves tests/fixtures/anthropic/*
(see README.md). Every check compares the SDK's parsed objects with the fixture the mock
must have chosen for that request, so a passing check also shows that the request reached
the right upstream path with the right body (`stream`, tool_result) and headers
(`anthropic-version` for /v1/models).

Prints one line per passed check; exits 1 on the first failure.
"""

from __future__ import annotations

import json
import sys

from harness import Checks, eq, expect

try:
    import anthropic
except ImportError:  # pragma: no cover
    sys.exit("FAIL: the `anthropic` package is not installed (pip install -r tests/sdk/requirements.txt)")

checks = Checks("anthropic", "anthropic")
URL = checks.url
fixture_json = checks.fixture_json
fixture_sse_data = checks.fixture_sse_data
run = checks.run

MODEL = "claude-sonnet-4-6"
FAKE_KEY = "sk-ant-api03-lunaroute-fake-key-000000000000"
ARGS = {"city": "Paris", "unit": "celsius"}
TOOL_TEXT = "I'll check the current weather in Paris for you ☀️"
ANSWER = "The weather in Paris is 18°C and sunny."
TOOLS = [
    {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "input_schema": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    }
]
USER = {"role": "user", "content": "What's the weather in Paris right now?"}


def make_client() -> anthropic.Anthropic:
    kwargs = dict(base_url=URL, api_key=FAKE_KEY, max_retries=0, timeout=30.0)
    try:
        # Strict mode: the SDK validates every response / stream event against its pydantic
        # types and raises on a missing or mistyped field instead of silently constructing it.
        return anthropic.Anthropic(_strict_response_validation=True, **kwargs)
    except TypeError:  # private flag removed in some future SDK version
        return anthropic.Anthropic(**kwargs)


client = make_client()
state: dict = {}

# ---------------------------------------------------------------------------------------------


def check_usage(usage, fx_usage: dict, what: str) -> None:
    for field in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        eq(getattr(usage, field), fx_usage[field], f"{what} usage.{field}")


def tool_turn_messages(msg) -> list:
    """USER, the assistant tool_use turn as the SDK returned it, and the tool_result."""
    tool = next(b for b in msg.content if b.type == "tool_use")
    assistant_content = []
    for b in msg.content:
        if b.type == "text":
            assistant_content.append({"type": "text", "text": b.text})
        elif b.type == "tool_use":
            assistant_content.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
    return [
        USER,
        {"role": "assistant", "content": assistant_content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "18°C, sunny, wind 9 km/h"}],
        },
    ]


def messages_create_tool() -> None:
    fx = fixture_json("messages_tool.json")
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=1024, messages=[USER], tools=TOOLS)
    ctype = raw.headers.get("content-type", "")
    expect(ctype.startswith("application/json"), f"content-type should be application/json, got {ctype!r}")
    msg = raw.parse()
    eq(msg.id, fx["id"], "message id (non-streaming tool fixture expected: POST /v1/messages without stream)")
    eq(msg.type, "message", "type")
    eq(msg.role, "assistant", "role")
    eq(msg.model, fx["model"], "model")
    eq([b.type for b in msg.content], ["text", "tool_use"], "content block types")
    eq(msg.content[0].text, TOOL_TEXT, "text block")
    tool = msg.content[1]
    eq(tool.name, "get_weather", "tool name")
    eq(tool.id, fx["content"][1]["id"], "tool_use id")
    eq(tool.input, ARGS, "tool input")
    eq(msg.stop_reason, "tool_use", "stop_reason")
    check_usage(msg.usage, fx["usage"], "message")
    eq(msg.to_dict(mode="json"), fx, "whole message as parsed vs fixture")
    state["tool_msg"] = msg


def messages_stream_tool() -> None:
    fx = fixture_sse_data("messages_tool.sse")
    start = fx[0]["message"]
    final_usage = next(d for d in fx if d["type"] == "message_delta")["usage"]
    event_types: list[str] = []
    texts: list[str] = []
    json_parts: list[str] = []
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=[USER], tools=TOOLS) as stream:
        ctype = stream.response.headers.get("content-type", "")
        expect(ctype.startswith("text/event-stream"), f"content-type should be text/event-stream, got {ctype!r}")
        for event in stream:
            event_types.append(event.type)
            if event.type == "text":
                texts.append(event.text)
            elif event.type == "input_json":
                json_parts.append(event.partial_json)
        final = stream.get_final_message()
    raw_types = [t for t in event_types if t not in ("text", "input_json", "thinking", "signature", "citation")]
    eq(raw_types[0], "message_start", "first event")
    eq(raw_types[-1], "message_stop", "last event")
    eq(raw_types.count("content_block_start"), 2, "content_block_start count")
    eq(raw_types.count("content_block_stop"), 2, "content_block_stop count")
    eq(raw_types.count("message_delta"), 1, "message_delta count")
    expect("ping" not in raw_types, "ping events must be skipped by the SDK")
    expect(len(texts) >= 2, f"expected 2+ text deltas, got {texts!r}")
    eq("".join(texts), TOOL_TEXT, "concatenated text deltas")
    eq(json.loads("".join(json_parts)), ARGS, "concatenated input_json deltas")
    eq(final.id, start["id"], "message id (streaming tool fixture expected: POST /v1/messages with stream=true)")
    eq([b.type for b in final.content], ["text", "tool_use"], "final content block types")
    eq(final.content[0].text, TOOL_TEXT, "final text block")
    eq(final.content[1].name, "get_weather", "final tool name")
    eq(final.content[1].input, ARGS, "final tool input (assembled from input_json_delta)")
    eq(final.stop_reason, "tool_use", "final stop_reason")
    check_usage(final.usage, final_usage, "final")
    state["stream_tool_msg"] = final


def messages_create_after_tool_result() -> None:
    fx = fixture_json("messages_text.json")
    msg = client.messages.create(model=MODEL, max_tokens=1024, messages=tool_turn_messages(state["tool_msg"]), tools=TOOLS)
    eq(msg.id, fx["id"], "message id (non-streaming text fixture expected: last user message has a tool_result)")
    eq([b.type for b in msg.content], ["text"], "content block types")
    eq(msg.content[0].text, ANSWER, "answer text")
    eq(msg.stop_reason, "end_turn", "stop_reason")
    check_usage(msg.usage, fx["usage"], "message")
    eq(msg.to_dict(mode="json"), fx, "whole message as parsed vs fixture")


def messages_stream_after_tool_result() -> None:
    fx = fixture_sse_data("messages_text.sse")
    final_usage = next(d for d in fx if d["type"] == "message_delta")["usage"]
    with client.messages.stream(
        model=MODEL, max_tokens=1024, messages=tool_turn_messages(state["stream_tool_msg"]), tools=TOOLS
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    expect(len(texts) >= 2, f"expected 2+ text deltas, got {texts!r}")
    eq("".join(texts), ANSWER, "streamed text")
    eq(final.id, fx[0]["message"]["id"], "message id (streaming text fixture expected)")
    eq(final.content[0].text, ANSWER, "final text")
    eq(final.stop_reason, "end_turn", "stop_reason")
    check_usage(final.usage, final_usage, "final")


def count_tokens() -> None:
    fx = fixture_json("count_tokens.json")
    res = client.messages.count_tokens(model=MODEL, messages=[USER], tools=TOOLS)
    eq(res.input_tokens, fx["input_tokens"], "input_tokens (POST /v1/messages/count_tokens expected)")


def models_list() -> None:
    fx = fixture_json("models.json")
    page = client.models.list()
    models = list(page)  # auto-pagination must stop on has_more=false
    eq([m.id for m in models], [m["id"] for m in fx["data"]], "model ids (Anthropic-shaped /v1/models expected)")
    expect(all(m.type == "model" for m in models), "every model has type 'model'")
    eq(models[1].display_name, fx["data"][1]["display_name"], "display_name")
    eq(page.has_more, False, "has_more")


run("messages.create with tools -> tool_use", messages_create_tool)
run("messages.stream with tools -> tool_use assembled", messages_stream_tool)
run("messages.create with tool_result -> text answer", messages_create_after_tool_result)
run("messages.stream with tool_result -> text answer", messages_stream_after_tool_result)
run("messages.count_tokens", count_tokens)
run("models.list", models_list)
checks.done()
