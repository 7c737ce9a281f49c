"""What check_anthropic.py and check_openai.py share: reading LUNAROUTE_URL / LUNAROUTE_FIXTURES,
loading fixtures, the expect/eq assertions, and the runner that prints one `ok` line per passed
check and stops at the first failure with a `FAIL ...` line, the `<sdk>: N passed, M failed`
count line and exit code 1.

The scripts run as `python tests/sdk/check_x.py`, so this folder is on sys.path and they import
it as `harness`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path


class CheckFailed(AssertionError):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def eq(actual, expected, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def describe(e: Exception) -> str:
    """Extra detail for SDK errors: the pydantic errors behind a validation failure, the
    HTTP status and body behind a status error."""
    cause = e.__cause__
    if cause is not None and hasattr(cause, "errors"):
        try:
            errs = cause.errors()[:5]
            return " [" + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errs) + "]"
        except Exception:
            return f" [{cause}]"
    status = getattr(e, "status_code", None)
    if status is not None:
        return f" [HTTP {status}, body={getattr(e, 'body', None)!r}]"
    return ""


class Checks:
    """The runner for one SDK: `sdk` names it in every output line, `fixtures` is its subfolder
    of the fixtures directory. Exits 1 right away when LUNAROUTE_URL is not set."""

    def __init__(self, sdk: str, fixtures: str) -> None:
        url = os.environ.get("LUNAROUTE_URL", "").rstrip("/")
        if not url:
            sys.exit("FAIL: set LUNAROUTE_URL to the proxy base URL, e.g. http://127.0.0.1:8081 (no /v1)")
        self.sdk = sdk
        self.url = url
        self.fixtures = (
            Path(os.environ.get("LUNAROUTE_FIXTURES") or Path(__file__).resolve().parent.parent / "fixtures") / fixtures
        )
        self.passed = 0

    def fixture_json(self, name: str):
        with open(self.fixtures / name, encoding="utf-8") as f:
            return json.load(f)

    def fixture_sse_data(self, name: str) -> list:
        """The JSON `data:` payloads of a fixture's SSE events, in order ([DONE] left out)."""
        out = []
        for line in (self.fixtures / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload != "[DONE]":
                    out.append(json.loads(payload))
        return out

    def fail(self, line: str) -> None:
        print(line, flush=True)
        print(f"{self.sdk}: {self.passed} passed, 1 failed", flush=True)
        sys.exit(1)

    def run(self, name: str, fn) -> None:
        try:
            fn()
        except CheckFailed as e:
            self.fail(f"FAIL {self.sdk}: {name}: {e}")
        except Exception as e:  # SDK errors (connection, status, validation) are failures too
            traceback.print_exc(file=sys.stderr)
            self.fail(f"FAIL {self.sdk}: {name}: {type(e).__name__}: {e}{describe(e)}")
        self.passed += 1
        print(f"ok   {self.sdk}: {name}", flush=True)

    def done(self) -> None:
        """The count line after every check passed."""
        print(f"{self.sdk}: {self.passed} passed, 0 failed", flush=True)
