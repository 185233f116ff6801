"""An experiment, not a configuration to ship: qlaud's settings with (almost) no Django middleware.

The gateway's /v1/ views authenticate by API key and need none of the site middleware (sessions,
CSRF, auth, messages, allauth, htmx, org switching, WhiteNoise). Benchmarking this target next to
`qlaud` measures what that stack costs per API request (`--targets qlaud,qlaud-lean`).
"""

from __future__ import annotations

from qlaud.settings import *  # noqa: F403

# allauth refuses to start without its middleware; it is async and cheap, so it stays.
MIDDLEWARE: list[str] = ["allauth.account.middleware.AccountMiddleware"]
