# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bits of vLLM's OpenAI-compatible API the collection reads: the model list."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

_EXPECTED = 'an OpenAI model list like {"object": "list", "data": [{"id": "..."}]}'


def models_url(base_url):
    """Return the /v1/models URL of a server given as "http://h:8000", "http://h:8000/" or "http://h:8000/v1"."""
    parts = urlsplit(str(base_url).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the vLLM URL must be an http:// or https:// URL with a host, got {base_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"the vLLM URL must not have a query or fragment, got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1/models"):
        path = path[: -len("/models")]
    if not path.endswith("/v1"):
        path += "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path + "/models", "", ""))


def parse_models(body_text):
    """Return the model ids of an OpenAI /v1/models answer; ValueError if the body is anything else."""
    if isinstance(body_text, bytes):
        body_text = body_text.decode("utf-8", errors="replace")
    excerpt = (body_text or "")[:200]
    try:
        body = json.loads(body_text)
    except ValueError:
        raise ValueError(f"expected {_EXPECTED}, got text that is not JSON: {excerpt!r}") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or body.get("object", "list") != "list":
        raise ValueError(f"expected {_EXPECTED}, got {excerpt!r}")
    models = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise ValueError(f"expected {_EXPECTED}, got an entry without an id: {entry!r}")
        models.append(entry["id"])
    return models


def model_listed(models, wanted):
    """True when `wanted` is among the listed models; with no wanted model (None or ""), when any is listed."""
    if not wanted:
        return bool(models)
    return wanted in models
