"""/dashboard/playground/: try a model from the browser, paid by the org's wallet through a short-lived key.

The page talks to qlaud's own /v1/chat/completions with fetch, like any client. The key is minted for the
session (accounts.keys.mint_playground_key) and remembered in it, reused while it is valid: its raw secret
is only ever in this user's session and page, and it expires by itself.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.keys import mint_playground_key, playground_key_usable
from accounts.views.common import org_view

SESSION_KEY = "playground_key"


def session_playground_key(request: HttpRequest) -> str:
    """The raw playground key for this user and org: the session's one while usable, else a new one."""
    org, user = request.org, request.user  # type: ignore[attr-defined]
    remembered = request.session.get(SESSION_KEY) or {}
    if remembered.get("org") == org.pk and playground_key_usable(remembered["id"], remembered["raw"], org, user):  # type: ignore[arg-type]
        return remembered["raw"]
    key, raw = mint_playground_key(org, user)  # type: ignore[arg-type]
    request.session[SESSION_KEY] = {"org": org.pk, "id": key.pk, "raw": raw}
    return raw


@org_view
@require_GET
def playground(request: HttpRequest) -> HttpResponse:
    response = render(request, "accounts/playground.html", {"raw_key": session_playground_key(request)})
    response["Cache-Control"] = "no-store"  # the page holds a key
    return response
