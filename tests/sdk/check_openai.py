#!/usr/bin/env python3
"""Drive the official `openai` Python SDK through LunaRoute and check what it parsed.

Environment:
  LUNAROUTE_URL       base URL of the proxy, without /v1 (e.g. http://127.0.0.1:8081);
                      the client is built with base_url=LUNAROUTE_URL + "/v1"
  LUNAROUTE_FIXTURES  optional, defaults to ../fixtures next to this file

The upstream behind the proxy is the mock provider that serves tests/fixtures/openai/*
(see README.md). Every check compares the SDK's parsed objects with the fixture the mock
must have chosen for that request, so a passing check also shows that the request reached
the right upstream path with the right body (`stream`, tool results) and headers (no
`anthropic-version` for /v1/models).

Prints one line per passed check; exits 1 on the first failure.
"""

from __future__ import annotations

import json
import sys

from harness import Checks, eq, expect

try:
    import openai
except ImportError:  # pragma: no cover
    sys.exit("FAIL: the `openai` package is not installed (pip install -r tests/sdk/requirements.txt)")

checks = Checks("openai", "openai")
URL = checks.url
fixture_json = checks.fixture_json
fixture_sse_data = checks.fixture_sse_data
run = checks.run

MODEL = "gpt-5.4-mini"
FAKE_KEY = "sk-lunaroute-fake-key-000000000000"
ARGS = {"city": "Paris", "unit": "celsius"}
ANSWER = "The weather in Paris is 18°C and sunny."
QUESTION = "What's the weather in Paris right now?"
TOOL_OUTPUT = "18°C, sunny, wind 9 km/h"
WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": WEATHER_PARAMS,
            "strict": True,
        },
    }
]
RESP_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": WEATHER_PARAMS,
        "strict": True,
    }
]


def make_client() -> openai.OpenAI:
    kwargs = dict(base_url=URL + "/v1", api_key=FAKE_KEY, max_retries=0, timeout=30.0)
    try:
        # Strict mode: the SDK validates every response / stream event against its pydantic
        # types and raises on a missing or mistyped field instead of silently constructing it.
        return openai.OpenAI(_strict_response_validation=True, **kwargs)
    except TypeError:  # private flag removed in some future SDK version
        return openai.OpenAI(**kwargs)


client = make_client()
state: dict = {}

# --------------------------------------------------------------------------- Chat Completions


def check_chat_usage(usage, fx_usage: dict, what: str) -> None:
    expect(usage is not None, f"{what}: usage missing")
    eq(usage.prompt_tokens, fx_usage["prompt_tokens"], f"{what} prompt_tokens")
    eq(usage.completion_tokens, fx_usage["completion_tokens"], f"{what} completion_tokens")
    eq(usage.total_tokens, fx_usage["total_tokens"], f"{what} total_tokens")
    eq(usage.prompt_tokens_details.cached_tokens, fx_usage["prompt_tokens_details"]["cached_tokens"], f"{what} cached_tokens")
    eq(
        usage.completion_tokens_details.reasoning_tokens,
        fx_usage["completion_tokens_details"]["reasoning_tokens"],
        f"{what} reasoning_tokens",
    )


def chat_followup(call_id: str, arguments: str) -> list:
    return [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": TOOL_OUTPUT},
    ]


def chat_create_tool() -> None:
    fx = fixture_json("chat_tool.json")
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], tools=CHAT_TOOLS
    )
    ctype = raw.headers.get("content-type", "")
    expect(ctype.startswith("application/json"), f"content-type should be application/json, got {ctype!r}")
    comp = raw.parse()
    eq(comp.id, fx["id"], "completion id (non-streaming tool fixture expected: POST /v1/chat/completions)")
    eq(comp.object, "chat.completion", "object")
    eq(comp.model, fx["model"], "model")
    eq(len(comp.choices), 1, "choices")
    choice = comp.choices[0]
    eq(choice.finish_reason, "tool_calls", "finish_reason")
    eq(choice.message.content, None, "message.content")
    eq(len(choice.message.tool_calls or []), 1, "tool_calls")
    call = choice.message.tool_calls[0]
    eq(call.type, "function", "tool call type")
    eq(call.id, fx["choices"][0]["message"]["tool_calls"][0]["id"], "tool call id")
    eq(call.function.name, "get_weather", "function name")
    eq(json.loads(call.function.arguments), ARGS, "function arguments")
    check_chat_usage(comp.usage, fx["usage"], "usage")
    eq(comp.to_dict(mode="json"), fx, "whole completion as parsed vs fixture")
    state["chat_call"] = (call.id, call.function.arguments)


def chat_stream_tool() -> None:
    fx = fixture_sse_data("chat_tool.sse")
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        tools=CHAT_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    ctype = stream.response.headers.get("content-type", "")
    expect(ctype.startswith("text/event-stream"), f"content-type should be text/event-stream, got {ctype!r}")
    chunks = list(stream)
    eq(len(chunks), len(fx), "chunk count ([DONE] must end the stream)")
    expect(all(c.id == fx[0]["id"] for c in chunks), "every chunk carries the streaming fixture's id")
    calls: dict[int, dict] = {}
    finish = None
    arg_pieces = 0
    for c in chunks[:-1]:
        for ch in c.choices:
            if ch.finish_reason:
                finish = ch.finish_reason
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
                    arg_pieces += 1
    eq(finish, "tool_calls", "finish_reason")
    eq(sorted(calls), [0], "tool call indexes")
    expect(arg_pieces >= 2, f"arguments should arrive in several chunks, got {arg_pieces}")
    eq(calls[0]["name"], "get_weather", "assembled function name")
    eq(calls[0]["id"], fx[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "assembled tool call id")
    eq(json.loads(calls[0]["arguments"]), ARGS, "assembled function arguments")
    last = chunks[-1]
    eq(last.choices, [], "usage chunk has choices=[]")
    check_chat_usage(last.usage, fx[-1]["usage"], "usage chunk")
    state["chat_stream_call"] = (calls[0]["id"], calls[0]["arguments"])


def chat_create_text() -> None:
    fx = fixture_json("chat_text.json")
    comp = client.chat.completions.create(model=MODEL, messages=chat_followup(*state["chat_call"]), tools=CHAT_TOOLS)
    eq(comp.id, fx["id"], "completion id (non-streaming text fixture expected: a role=tool message was sent)")
    eq(comp.choices[0].finish_reason, "stop", "finish_reason")
    eq(comp.choices[0].message.content, ANSWER, "answer text")
    eq(comp.choices[0].message.tool_calls, None, "no tool calls")
    check_chat_usage(comp.usage, fx["usage"], "usage")
    eq(comp.to_dict(mode="json"), fx, "whole completion as parsed vs fixture")


def chat_stream_text() -> None:
    fx = fixture_sse_data("chat_text.sse")
    stream = client.chat.completions.create(
        model=MODEL,
        messages=chat_followup(*state["chat_stream_call"]),
        tools=CHAT_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    eq(len(chunks), len(fx), "chunk count")
    expect(all(c.id == fx[0]["id"] for c in chunks), "every chunk carries the streaming text fixture's id")
    pieces = [ch.delta.content for c in chunks for ch in c.choices if ch.delta.content]
    finish = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    expect(len(pieces) >= 2, f"expected 2+ content deltas, got {pieces!r}")
    eq("".join(pieces), ANSWER, "streamed text")
    eq(finish, ["stop"], "finish_reason")
    eq(chunks[-1].choices, [], "usage chunk has choices=[]")
    check_chat_usage(chunks[-1].usage, fx[-1]["usage"], "usage chunk")


# --------------------------------------------------------------------------- Responses


def check_resp_usage(usage, fx_usage: dict, what: str) -> None:
    expect(usage is not None, f"{what}: usage missing")
    eq(usage.input_tokens, fx_usage["input_tokens"], f"{what} input_tokens")
    eq(usage.input_tokens_details.cached_tokens, fx_usage["input_tokens_details"]["cached_tokens"], f"{what} cached_tokens")
    eq(usage.output_tokens, fx_usage["output_tokens"], f"{what} output_tokens")
    eq(
        usage.output_tokens_details.reasoning_tokens,
        fx_usage["output_tokens_details"]["reasoning_tokens"],
        f"{what} reasoning_tokens",
    )
    eq(usage.total_tokens, fx_usage["total_tokens"], f"{what} total_tokens")


def only_function_call(resp):
    calls = [o for o in resp.output if o.type == "function_call"]
    eq(len(calls), 1, "function_call output items")
    return calls[0]


def responses_followup(call_id: str, arguments: str) -> list:
    return [
        {"role": "user", "content": QUESTION},
        {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": arguments},
        {"type": "function_call_output", "call_id": call_id, "output": TOOL_OUTPUT},
    ]


def responses_create_tool() -> None:
    fx = fixture_json("responses_tool.json")
    resp = client.responses.create(model=MODEL, input=QUESTION, tools=RESP_TOOLS)
    eq(resp.id, fx["id"], "response id (non-streaming tool fixture expected: POST /v1/responses)")
    eq(resp.object, "response", "object")
    eq(resp.status, "completed", "status")
    eq([o.type for o in resp.output], [o["type"] for o in fx["output"]], "output item types")
    call = only_function_call(resp)
    fx_call = next(o for o in fx["output"] if o["type"] == "function_call")
    eq(call.name, "get_weather", "function name")
    eq(call.call_id, fx_call["call_id"], "call_id")
    eq(call.id, fx_call["id"], "item id")
    eq(call.status, "completed", "item status")
    eq(json.loads(call.arguments), ARGS, "function arguments")
    eq(resp.output_text, "", "no output text")
    check_resp_usage(resp.usage, fx["usage"], "usage")
    eq(resp.to_dict(mode="json"), fx, "whole response as parsed vs fixture")
    state["resp_call"] = (call.call_id, call.arguments)


def responses_stream_tool() -> None:
    fx = fixture_sse_data("responses_tool.sse")
    stream = client.responses.create(model=MODEL, input=QUESTION, tools=RESP_TOOLS, stream=True)
    ctype = stream.response.headers.get("content-type", "")
    expect(ctype.startswith("text/event-stream"), f"content-type should be text/event-stream, got {ctype!r}")
    events = list(stream)
    eq([e.type for e in events], [d["type"] for d in fx], "event types in order")
    eq([e.sequence_number for e in events], list(range(len(fx))), "sequence_number")
    rid = fx[0]["response"]["id"]
    eq(events[0].response.id, rid, "response.created id (streaming tool fixture expected)")
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    expect(len(deltas) >= 2, f"arguments should arrive in several deltas, got {deltas!r}")
    eq("".join(deltas), done.arguments, "concatenated argument deltas vs .done")
    eq(json.loads(done.arguments), ARGS, "function arguments")
    completed = events[-1]
    eq(completed.type, "response.completed", "terminal event")
    eq(completed.response.id, rid, "completed response id")
    eq(completed.response.status, "completed", "status")
    call = only_function_call(completed.response)
    eq(call.name, "get_weather", "function name")
    eq(call.id, done.item_id, "function_call item id")
    eq(json.loads(call.arguments), ARGS, "completed function arguments")
    check_resp_usage(completed.response.usage, fx[-1]["response"]["usage"], "usage")
    state["resp_stream_call"] = (call.call_id, call.arguments)


def responses_stream_helper_tool() -> None:
    fx = fixture_sse_data("responses_tool.sse")
    with client.responses.stream(model=MODEL, input=QUESTION, tools=RESP_TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    eq(final.id, fx[0]["response"]["id"], "final response id (streaming tool fixture expected)")
    call = only_function_call(final)
    eq(call.name, "get_weather", "function name")
    eq(json.loads(call.arguments), ARGS, "function arguments")
    check_resp_usage(final.usage, fx[-1]["response"]["usage"], "usage")


def responses_create_text() -> None:
    fx = fixture_json("responses_text.json")
    resp = client.responses.create(model=MODEL, input=responses_followup(*state["resp_call"]), tools=RESP_TOOLS)
    eq(resp.id, fx["id"], "response id (non-streaming text fixture expected: input had a function_call_output)")
    eq(resp.status, "completed", "status")
    eq([o.type for o in resp.output], ["message"], "output item types")
    eq(resp.output_text, ANSWER, "output_text")
    check_resp_usage(resp.usage, fx["usage"], "usage")
    eq(resp.to_dict(mode="json"), fx, "whole response as parsed vs fixture")


def responses_stream_text() -> None:
    fx = fixture_sse_data("responses_text.sse")
    pieces: list[str] = []
    with client.responses.stream(
        model=MODEL, input=responses_followup(*state["resp_stream_call"]), tools=RESP_TOOLS
    ) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                pieces.append(event.delta)
        final = stream.get_final_response()
    expect(len(pieces) >= 2, f"expected 2+ text deltas, got {pieces!r}")
    eq("".join(pieces), ANSWER, "streamed text")
    eq(final.id, fx[0]["response"]["id"], "final response id (streaming text fixture expected)")
    eq(final.output_text, ANSWER, "final output_text")
    check_resp_usage(final.usage, fx[-1]["response"]["usage"], "usage")


# --------------------------------------------------------------------------- Models


def models_list() -> None:
    fx = fixture_json("models.json")
    page = client.models.list()
    models = list(page)
    eq([m.id for m in models], [m["id"] for m in fx["data"]], "model ids (OpenAI-shaped /v1/models expected)")
    expect(all(m.object == "model" for m in models), "every model has object 'model'")
    eq(page.object, "list", "page object")


run("chat.completions.create with tools -> tool call", chat_create_tool)
run("chat.completions.create stream with tools -> tool call assembled + usage chunk", chat_stream_tool)
run("chat.completions.create with tool result -> text answer", chat_create_text)
run("chat.completions.create stream with tool result -> text answer + usage chunk", chat_stream_text)
run("responses.create with tools -> function_call", responses_create_tool)
run("responses.create stream with tools -> function_call events", responses_stream_tool)
run("responses.stream helper with tools -> final function_call", responses_stream_helper_tool)
run("responses.create with function_call_output -> text answer", responses_create_text)
run("responses.stream with function_call_output -> text answer", responses_stream_text)
run("models.list", models_list)
checks.done()
