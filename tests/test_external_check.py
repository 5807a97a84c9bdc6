"""The external profile checks its endpoint once at start; a failure is one line, ends the run."""

from __future__ import annotations

import socket

import httpx
import pytest

from stackeval.errors import StackError, UnknownModel
from stackeval.stack.external import check_endpoint

pytest_plugins = ["pytester"]

KEY = "sk-external-test-key-9c1d"
BASE = "http://127.0.0.1:9/v1"


def _transport(status: int = 200, body: object | None = None, *, key: str | None = KEY):
    """An endpoint that lists two models to the right key, as LiteLLM without a DB does."""
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/models"
        if key and request.headers.get("authorization") != f"Bearer {key}":
            return httpx.Response(400, json={"error": {"message": "No connected db.",
                                                       "type": "no_db_connection"}})
        return httpx.Response(status, json=body if body is not None else {
            "data": [{"id": "smollm2:135m"}, {"id": "qwen2.5-coder:0.5b:latest"}]})
    return httpx.MockTransport(handle)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_good_endpoint_lists_the_models():
    listed = check_endpoint(BASE, KEY, ["smollm2:135m", "qwen2.5-coder:0.5b"],
                            transport=_transport())
    assert listed == ["smollm2:135m", "qwen2.5-coder:0.5b:latest"]


def test_unreachable_endpoint_names_the_url():
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(StackError) as info:
        check_endpoint(base, KEY, ["smollm2:135m"])
    message = str(info.value)
    assert base in message and "not reachable" in message and "\n" not in message


@pytest.mark.parametrize("key", ["sk-wrong", None])
def test_refused_key_names_the_key_never_its_value(key):
    with pytest.raises(StackError) as info:
        check_endpoint(BASE, key, ["smollm2:135m"], transport=_transport())
    message = str(info.value)
    assert "STACKEVAL_API_KEY" in message and BASE in message and "\n" not in message
    assert "sk-wrong" not in message and KEY not in message


def test_unlisted_model_names_what_is_listed():
    with pytest.raises(UnknownModel, match=r"does not list 'llama3:8b' \(it lists: smollm2:135m"):
        check_endpoint(BASE, KEY, ["llama3:8b"], transport=_transport())


def test_endpoint_without_a_model_list_is_not_an_error():
    assert check_endpoint(BASE, KEY, ["x"], transport=_transport(404, {"detail": "no"})) is None


def test_server_error_is_named():
    with pytest.raises(StackError, match=r"/v1/models answered HTTP 500"):
        check_endpoint(BASE, KEY, ["x"], transport=_transport(500, {"error": "boom"}))


def test_wrong_url_ends_the_run_at_once_with_one_line(pytester: pytest.Pytester):
    pytester.makepyfile(test_evals="""
        import pytest

        @pytest.mark.parametrize("model", ["smollm2:135m"])
        @pytest.mark.parametrize("i", range(5))
        def test_ask(model, i, stack):
            pass
    """)
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    result = pytester.runpytest_subprocess("--stack", "external", "--base-url", base,
                                           "--models", "smollm2:135m", "--api-key", KEY)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    lines = [ln for ln in out.splitlines() if "stack start failed" in ln]
    assert len(lines) == 1 and base in lines[0] and "not reachable" in lines[0]
    assert KEY not in out + result.stderr.str()
    assert "passed" not in out  # no test ran past the failed start
