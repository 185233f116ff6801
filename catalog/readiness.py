"""Is a provider configured? The settings each provider needs before qlaud may call it.

A provider without its credentials (or, for Vertex, its project) is *not configured*: the snapshot marks it
(`ProviderInfo.missing`), routing never sends it a request, and the site says so (/status, /models,
/v1/catalog) instead of showing a green pill. `setprovider --enable` refuses it, naming what is missing.

What each protocol needs:
- every protocol: the variable named by `api_key_env`, when one is named (a provider with no key variable,
  say a local vLLM, needs no key), or a key stored with `setprovider --api-key`;
- `bedrock`: that key, or AWS_BEARER_TOKEN_BEDROCK, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (SigV4);
- `vertex-anthropic` / `vertex-openai`: a service account (GOOGLE_APPLICATION_CREDENTIALS or the config's
  `credentials_file`) or an access token in the key variable, and a project (config `project` or VERTEX_PROJECT);
- `demo`: the QLAUD_DEMO setting (on by default with DEBUG or the embedded SQLite database);
- a `{name}` placeholder left in the base URL: config `name`, or the variable named by config `name_env`.

Settings are read from the environment when the snapshot is built, so a change needs a restart (or any catalog
save, which rebuilds every worker's snapshot).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings

VERTEX = ("vertex-anthropic", "vertex-openai")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _env(name: str) -> bool:
    return bool(name and os.environ.get(name))


def missing(
    *, protocol: str, base_url: str, api_key_env: str, has_stored_key: bool, config: Mapping[str, Any]
) -> tuple[str, ...]:
    """The settings a provider lacks, as a reader would set them (environment variables mostly); () when ready."""
    if protocol == "demo":
        return () if settings.QLAUD_DEMO else ("QLAUD_DEMO",)
    has_key = has_stored_key or _env(api_key_env)
    out: list[str] = []
    if protocol == "bedrock":
        sigv4 = _env("AWS_ACCESS_KEY_ID") and _env("AWS_SECRET_ACCESS_KEY")
        if not (has_key or _env("AWS_BEARER_TOKEN_BEDROCK") or sigv4):
            out.append(api_key_env or "AWS_BEARER_TOKEN_BEDROCK")
    elif protocol in VERTEX:
        service_account = config.get("credentials_file") or _env("GOOGLE_APPLICATION_CREDENTIALS")
        if not (has_key or service_account):
            out.append("GOOGLE_APPLICATION_CREDENTIALS")
        if not (config.get("project") or _env("VERTEX_PROJECT")):
            out.append("VERTEX_PROJECT")
    elif api_key_env and not has_key:
        out.append(api_key_env)
    for name in _PLACEHOLDER.findall(base_url):
        if not (config.get(name) or _env(str(config.get(f"{name}_env", "")))):
            out.append(str(config.get(f"{name}_env") or f"config.{name}"))
    return tuple(out)


def missing_for(provider: Any) -> tuple[str, ...]:
    """`missing()` of a Provider row (its base URL as stored, placeholders and all)."""
    return missing(
        protocol=provider.protocol,
        base_url=provider.base_url,
        api_key_env=provider.api_key_env,
        has_stored_key=bool(provider.api_key_encrypted),
        config=provider.config or {},
    )


def hint(slug: str, api_key_env: str, missing_settings: tuple[str, ...]) -> str:
    """One sentence telling an operator how to configure the provider, naming what is missing."""
    if missing_settings == ("QLAUD_DEMO",):
        return f"{slug} is not configured: set QLAUD_DEMO=1 (the built-in demo is off when DEBUG is off)"
    names = " and ".join(missing_settings)
    key = api_key_env if api_key_env in missing_settings else ""
    if key:
        command = f"manage.py setprovider {slug} --api-key-env {key} --enable"
    else:
        command = f"manage.py setprovider {slug} --enable"
    return f"{slug} is not configured: set {names} and run `{command}`"
