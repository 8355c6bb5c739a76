from __future__ import annotations

import json

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.vllm_api import (
    model_listed,
    models_url,
    parse_models,
)


@pytest.mark.parametrize("base, url", [
    ("http://h:8000", "http://h:8000/v1/models"),
    ("http://h:8000/", "http://h:8000/v1/models"),
    ("http://h:8000/v1", "http://h:8000/v1/models"),
    ("http://h:8000/v1/", "http://h:8000/v1/models"),
    ("http://h:8000/v1/models", "http://h:8000/v1/models"),
    ("https://api.example.org/vllm", "https://api.example.org/vllm/v1/models"),
    (" http://[::1]:8000 ", "http://[::1]:8000/v1/models"),
])
def test_models_url(base, url):
    assert models_url(base) == url


@pytest.mark.parametrize("base", ["ftp://h/", "h:8000", "127.0.0.1:8000", "", "http://", "http://h:8000/?x=1"])
def test_models_url_rejects(base):
    with pytest.raises(ValueError, match="vLLM URL"):
        models_url(base)


def test_parse_models():
    body = {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "vllm"},
                                       {"id": "lora-a", "object": "model", "parent": "tiny"}]}
    assert parse_models(json.dumps(body)) == ["tiny", "lora-a"]
    assert parse_models(json.dumps(body).encode()) == ["tiny", "lora-a"]
    assert parse_models('{"data": []}') == []


@pytest.mark.parametrize("body, message", [
    ("<html>Bad Gateway</html>", "not JSON: '<html>Bad Gateway</html>'"),
    ("", "not JSON"),
    ("[]", "got '[]'"),
    ('{"object": "list"}', "OpenAI model list"),
    ('{"object": "error", "data": []}', "OpenAI model list"),
    ('{"data": {"id": "x"}}', "OpenAI model list"),
    ('{"data": [{"name": "x"}]}', "an entry without an id: {'name': 'x'}"),
    ('{"data": [{"id": 3}]}', "without an id"),
    ('{"data": ["x"]}', "without an id"),
])
def test_parse_models_rejects(body, message):
    with pytest.raises(ValueError) as err:
        parse_models(body)
    assert message in str(err.value)
    assert '{"object": "list", "data": [{"id": "..."}]}' in str(err.value)


@pytest.mark.parametrize("models, wanted, listed", [
    (["tiny"], "tiny", True),
    (["tiny", "other"], "other", True),
    (["tiny"], "Tiny", False),
    (["tiny"], None, True),
    (["tiny"], "", True),
    ([], None, False),
    ([], "tiny", False),
])
def test_model_listed(models, wanted, listed):
    assert model_listed(models, wanted) is listed
