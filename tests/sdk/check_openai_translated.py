#!/usr/bin/env python3
"""Drive the official `openai` Python SDK through LunaRoute to an *Anthropic* provider.

The proxy has a routing rule sending the model `claude-via-openai-sdk` to an Anthropic provider
(the fixture mock, see README.md), so every Chat Completions request is translated to Anthropic
Messages and every Anthropic event stream back to Chat chunks. The checks assert what the SDK
parsed against the Anthropic fixtures the mock served:

1. a streaming tool call through the SDK's stream helper (`chat.completions.stream`): tool name,
   arguments JSON (sent in several deltas), finish_reason `tool_calls`, the usage chunk;
2. the same with plain `create(stream=True)` and no `stream_options`: no usage chunk;
3. the tool result sent back, streamed: the final text and finish_reason `stop`.

Environment: LUNAROUTE_URL (proxy base URL, no /v1), LUNAROUTE_FIXTURES (optional).
"""

from __future__ import annotations

import json
import sys

from harness import Checks, eq, expect

try:
    import openai
except ImportError:  # pragma: no cover
    sys.exit("FAIL: the `openai` package is not installed (pip install -r tests/sdk/requirements.txt)")

checks = Checks("openai->anthropic", "anthropic")
run = checks.run

MODEL = "claude-via-openai-sdk"
FAKE_KEY = "sk-lunaroute-fake-key-000000000000"
QUESTION = "What's the weather in Paris right now?"
TOOL_OUTPUT = "18°C, sunny, wind 9 km/h"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city", "unit"],
            },
        },
    }
]


def anthropic_stream(name: str) -> dict:
    """What the fixture stream says: text, tool id/name/arguments, usage, stop reason."""
    out = {"text": "", "tool_id": None, "tool_name": None, "args": "", "usage": {}, "stop": None}
    for event in checks.fixture_sse_data(name):
        kind = event["type"]
        if kind == "message_start":
            out["usage"].update(event["message"]["usage"])
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            out["tool_id"] = event["content_block"]["id"]
            out["tool_name"] = event["content_block"]["name"]
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                out["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                out["args"] += delta["partial_json"]
        elif kind == "message_delta":
            out["usage"].update(event["usage"])
            out["stop"] = event["delta"]["stop_reason"]
    return out


TOOL = anthropic_stream("messages_tool.sse")
TEXT = anthropic_stream("messages_text.sse")

client = openai.OpenAI(base_url=checks.url + "/v1", api_key=FAKE_KEY, max_retries=0, timeout=30.0)
state: dict = {}


def streamed_tool_call_with_helper() -> None:
    expect(TOOL["stop"] == "tool_use", "the fixture is a tool call")
    arg_deltas = 0
    with client.chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS,
        max_completion_tokens=512,
        stream_options={"include_usage": True},
    ) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                arg_deltas += 1
        final = stream.get_final_completion()
    expect(arg_deltas >= 2, f"the arguments should arrive in several deltas, got {arg_deltas}")
    eq(final.model, MODEL, "the client's model echoed")
    eq(len(final.choices), 1, "choices")
    choice = final.choices[0]
    eq(choice.finish_reason, "tool_calls", "finish_reason")
    eq(choice.message.content, TOOL["text"], "the text before the call")
    calls = choice.message.tool_calls or []
    eq(len(calls), 1, "tool_calls")
    call = calls[0]
    eq(call.type, "function", "tool call type")
    eq(call.id, TOOL["tool_id"], "tool call id")
    eq(call.function.name, TOOL["tool_name"], "function name")
    eq(json.loads(call.function.arguments), json.loads(TOOL["args"]), "arguments JSON")
    u = TOOL["usage"]
    expect(final.usage is not None, "usage asked for, so present")
    prompt = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    eq(final.usage.prompt_tokens, prompt, "prompt_tokens = input + cache read + cache write")
    eq(final.usage.completion_tokens, u["output_tokens"], "completion_tokens")
    eq(final.usage.prompt_tokens_details.cached_tokens, u["cache_read_input_tokens"], "cached_tokens")
    state["call"] = (call.id, call.function.arguments)


def streamed_tool_call_without_usage() -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS,
        max_tokens=512,
        stream=True,
    )
    args, names, finish, usage_chunks = "", [], [], 0
    for chunk in stream:
        if chunk.usage is not None:
            usage_chunks += 1
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                if call.function and call.function.arguments:
                    args += call.function.arguments
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    eq(names, [TOOL["tool_name"]], "one call, named once")
    eq(json.loads(args), json.loads(TOOL["args"]), "arguments JSON")
    eq(finish, ["tool_calls"], "finish reasons")
    eq(usage_chunks, 0, "no usage chunk when include_usage was not asked")


def tool_result_then_text() -> None:
    call_id, arguments = state["call"]
    messages = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": TOOL_OUTPUT},
    ]
    with client.chat.completions.stream(
        model=MODEL, messages=messages, tools=TOOLS, max_completion_tokens=512
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    eq(choice.finish_reason, "stop", "finish_reason")
    eq(choice.message.content, TEXT["text"], "final text")
    eq(choice.message.tool_calls or [], [], "no more calls")


run("chat stream helper: tool call, arguments in deltas, usage", streamed_tool_call_with_helper)
run("chat create(stream=True): tool call, no usage chunk unasked", streamed_tool_call_without_usage)
run("chat stream: tool result back, final text", tool_result_then_text)
checks.done()
