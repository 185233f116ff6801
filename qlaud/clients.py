"""Setup snippets for each client, shared by the home page's tabs and the per-client docs pages.

Snippets are templates over `{site}` (settings.SITE_URL, no trailing slash), `{model}` (an example
catalog model) and `{key}` (a placeholder key). Base-URL rules per client are in spec/clients.md:
Anthropic-style clients take the bare site URL, OpenAI-style clients take `/v1`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from catalog import public

KEY_PLACEHOLDER = "ak_your_key_here"
# Snippet models in order of preference; only one with a live host whose price is verified is shown.
EXAMPLE_MODELS = ("deepseek-flash", "claude-sonnet-5", "gpt-oss-120b")
DEMO_MODEL = "qlaud/demo"  # the built-in demo (gateway/providers/demo.py): the fallback when no provider is configured


@dataclass(frozen=True, slots=True)
class Snippet:
    label: str
    language: str
    code: str


@dataclass(frozen=True, slots=True)
class Client:
    slug: str
    name: str
    surface: str  # which qlaud API it talks to
    blurb: str
    snippets: tuple[Snippet, ...]


CLIENTS: tuple[Client, ...] = (
    Client(
        "claude-code",
        "Claude Code",
        "Anthropic Messages (/v1/messages)",
        "Set two environment variables before starting claude. The base URL has no /v1: Claude Code adds it.",
        (
            Snippet(
                "shell",
                "sh",
                "export ANTHROPIC_BASE_URL={site}\n"
                "export ANTHROPIC_AUTH_TOKEN={key}\n"
                "export ANTHROPIC_MODEL={model}   # optional: any id from /models\n"
                "claude",
            ),
        ),
    ),
    Client(
        "cursor",
        "Cursor",
        "OpenAI Chat Completions (/v1/chat/completions)",
        "Settings → Models → API Keys: paste your key as the OpenAI API key, switch on “Override OpenAI Base URL”, "
        "then add the model name under Models.",
        (
            Snippet(
                "settings",
                "text",
                "OpenAI API Key:            {key}\n"
                "Override OpenAI Base URL:  {site}/v1\n"
                "Model name (+ Add model):  {model}",
            ),
        ),
    ),
    Client(
        "cline",
        "Cline",
        "OpenAI Chat Completions (/v1/chat/completions)",
        "In Cline's settings choose the “OpenAI Compatible” API provider.",
        (
            Snippet(
                "settings",
                "text",
                "API Provider:  OpenAI Compatible\n"
                "Base URL:      {site}/v1\n"
                "API Key:       {key}\n"
                "Model ID:      {model}",
            ),
        ),
    ),
    Client(
        "aider",
        "Aider",
        "OpenAI Chat Completions (/v1/chat/completions)",
        "Aider talks to any OpenAI-compatible API; prefix the model with openai/.",
        (
            Snippet(
                "shell",
                "sh",
                "export OPENAI_API_BASE={site}/v1\nexport OPENAI_API_KEY={key}\naider --model openai/{model}",
            ),
        ),
    ),
    Client(
        "openai-python",
        "openai-python",
        "OpenAI Chat Completions and Responses",
        "The official OpenAI SDK for Python. The base URL ends in /v1.",
        (
            Snippet(
                "python",
                "python",
                "from openai import OpenAI\n\n"
                'client = OpenAI(base_url="{site}/v1", api_key="{key}")\n'
                "reply = client.chat.completions.create(\n"
                '    model="{model}",\n'
                '    messages=[{{"role": "user", "content": "Hello"}}],\n'
                ")\n"
                "print(reply.choices[0].message.content)",
            ),
        ),
    ),
    Client(
        "openai-node",
        "openai-node",
        "OpenAI Chat Completions and Responses",
        "The official OpenAI SDK for JavaScript and TypeScript. The base URL ends in /v1.",
        (
            Snippet(
                "javascript",
                "js",
                'import OpenAI from "openai";\n\n'
                'const client = new OpenAI({{ baseURL: "{site}/v1", apiKey: process.env.QLAUD_API_KEY }});\n'
                "const reply = await client.chat.completions.create({{\n"
                '  model: "{model}",\n'
                '  messages: [{{ role: "user", content: "Hello" }}],\n'
                "}});\n"
                "console.log(reply.choices[0].message.content);",
            ),
        ),
    ),
    Client(
        "anthropic-python",
        "Anthropic Python SDK",
        "Anthropic Messages (/v1/messages)",
        "Pass qlaud's bare URL as base_url (no /v1: the SDK adds it) and your qlaud key as api_key.",
        (
            Snippet(
                "python",
                "python",
                "import anthropic\n\n"
                'client = anthropic.Anthropic(base_url="{site}", api_key="{key}")\n'
                "message = client.messages.create(\n"
                '    model="{model}",\n'
                "    max_tokens=1024,\n"
                '    messages=[{{"role": "user", "content": "Hello"}}],\n'
                ")\n"
                "print(message.content[0].text)",
            ),
            Snippet("environment", "sh", "export ANTHROPIC_BASE_URL={site}\nexport ANTHROPIC_API_KEY={key}"),
        ),
    ),
    Client(
        "anthropic-typescript",
        "Anthropic TypeScript SDK",
        "Anthropic Messages (/v1/messages)",
        "Pass qlaud's bare URL as baseURL (no /v1: the SDK adds it) and your qlaud key as apiKey.",
        (
            Snippet(
                "typescript",
                "ts",
                'import Anthropic from "@anthropic-ai/sdk";\n\n'
                'const client = new Anthropic({{ baseURL: "{site}", apiKey: process.env.QLAUD_API_KEY }});\n'
                "const message = await client.messages.create({{\n"
                '  model: "{model}",\n'
                "  max_tokens: 1024,\n"
                '  messages: [{{ role: "user", content: "Hello" }}],\n'
                "}});\n"
                "console.log(message.content);",
            ),
        ),
    ),
    Client(
        "langchain",
        "LangChain",
        "OpenAI Chat Completions or Anthropic Messages",
        "Use ChatOpenAI with qlaud's /v1 URL, or ChatAnthropic with the bare URL; every chain and agent on top "
        "works unchanged.",
        (
            Snippet(
                "ChatOpenAI",
                "python",
                "from langchain_openai import ChatOpenAI\n\n"
                'llm = ChatOpenAI(base_url="{site}/v1", api_key="{key}", model="{model}")\n'
                'print(llm.invoke("Hello").content)',
            ),
            Snippet(
                "ChatAnthropic",
                "python",
                "from langchain_anthropic import ChatAnthropic\n\n"
                'llm = ChatAnthropic(base_url="{site}", api_key="{key}", model="{model}", max_tokens=1024)\n'
                'print(llm.invoke("Hello").content)',
            ),
        ),
    ),
    Client(
        "vercel-ai-sdk",
        "Vercel AI SDK",
        "OpenAI Responses or Chat Completions, or Anthropic Messages",
        "qlaud(model) uses the Responses API; qlaud.chat(model) uses Chat Completions. Both work.",
        (
            Snippet(
                "typescript",
                "ts",
                'import {{ createOpenAI }} from "@ai-sdk/openai";\n'
                'import {{ generateText }} from "ai";\n\n'
                'const qlaud = createOpenAI({{ baseURL: "{site}/v1", apiKey: process.env.QLAUD_API_KEY }});\n'
                "const {{ text }} = await generateText({{\n"
                '  model: qlaud.chat("{model}"),\n'
                '  prompt: "Hello",\n'
                "}});",
            ),
        ),
    ),
    Client(
        "litellm",
        "LiteLLM",
        "OpenAI Chat Completions or Anthropic Messages",
        "With openai/ models the api_base ends in /v1; with anthropic/ models it must not "
        "(LiteLLM appends /v1/messages itself).",
        (
            Snippet(
                "python",
                "python",
                "import litellm\n\n"
                "reply = litellm.completion(\n"
                '    model="openai/{model}",\n'
                '    api_base="{site}/v1",\n'
                '    api_key="{key}",\n'
                '    messages=[{{"role": "user", "content": "Hello"}}],\n'
                ")",
            ),
        ),
    ),
    Client(
        "codex",
        "Codex CLI",
        "OpenAI Responses (/v1/responses)",
        'Codex only speaks the Responses API: keep wire_api = "responses". Put this in ~/.codex/config.toml '
        "and export QLAUD_API_KEY.",
        (
            Snippet(
                "config.toml",
                "toml",
                'model = "{model}"\nmodel_provider = "qlaud"\n\n[model_providers.qlaud]\nname = "qlaud"\n'
                'base_url = "{site}/v1"\nenv_key = "QLAUD_API_KEY"\nwire_api = "responses"',
            ),
        ),
    ),
)
CLIENTS_BY_SLUG = {c.slug: c for c in CLIENTS}


def _preferred(ids: list[str]) -> str:
    """The first of EXAMPLE_MODELS among ids, else a deepseek model, else the first id."""
    return next((m for m in EXAMPLE_MODELS if m in ids), next((m for m in ids if m.startswith("deepseek")), ids[0]))


def example_model() -> str:
    """A real catalog model for snippets, the playground and "Test this key": one that can answer.

    The preferred model (EXAMPLE_MODELS, then a deepseek model) among those with a verified host on a configured
    provider; with no provider configured (a fresh install without keys), the built-in DEMO_MODEL when the demo
    is on (QLAUD_DEMO); else the preferred model among the verified ones, configured or not.
    """
    ids = public.verified_model_ids()
    if not ids:
        return EXAMPLE_MODELS[0]
    ready = public.ready_model_ids()
    if real := [m for m in ready if m != DEMO_MODEL]:
        return _preferred(real)
    if DEMO_MODEL in ready:
        return DEMO_MODEL
    return _preferred([m for m in ids if m != DEMO_MODEL] or ids)


# The four ways to call one model, shown on model pages and beside a newly created key.
QUICKSTART: tuple[Snippet, ...] = (
    Snippet(
        "curl",
        "sh",
        "curl {site}/v1/chat/completions \\\n"
        '  -H "Authorization: Bearer {key}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        '  -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}\'',
    ),
    Snippet("openai-py", "python", CLIENTS_BY_SLUG["openai-python"].snippets[0].code),
    Snippet(
        "anthropic-py",
        "python",
        "from anthropic import Anthropic\n\n"
        'client = Anthropic(base_url="{site}", api_key="{key}")\n'
        "reply = client.messages.create(\n"
        '    model="{model}",\n'
        "    max_tokens=1024,\n"
        '    messages=[{{"role": "user", "content": "Hello"}}],\n'
        ")\n"
        "print(reply.content[0].text)",
    ),
    Snippet(
        "Claude Code",
        "sh",
        "export ANTHROPIC_BASE_URL={site}\nexport ANTHROPIC_AUTH_TOKEN={key}\nexport ANTHROPIC_MODEL={model}\nclaude",
    ),
)


def render(snippet: Snippet, *, model: str, key: str = KEY_PLACEHOLDER, site: str | None = None) -> str:
    return snippet.code.format(site=site or settings.SITE_URL, model=model, key=key)


def rendered_clients(model: str | None = None, *, site: str | None = None) -> list[dict]:
    model = model or example_model()
    return [
        {
            "slug": c.slug,
            "name": c.name,
            "blurb": c.blurb,
            "link": f"/docs/{c.slug}/",
            "snippets": [{"snippet": s, "code": render(s, model=model, site=site)} for s in c.snippets],
        }
        for c in CLIENTS
    ]


def quickstart(model: str, *, site: str, key: str = KEY_PLACEHOLDER) -> list[dict]:
    """QUICKSTART as tabs (see templates/partials/snippet_tabs.html)."""
    return [
        {
            "slug": str(n),
            "name": s.label,
            "snippets": [{"snippet": s, "code": render(s, model=model, key=key, site=site)}],
        }
        for n, s in enumerate(QUICKSTART, 1)
    ]
