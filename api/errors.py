"""Every management API error is `{"error": {"code", "message", "status"[, "fields"]}}`.

`code` is stable (clients may branch on it); `message` is for people and may change.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.orgs import OrgRuleError
from catalog.aliases import AliasTaken
from catalog.byok import CredentialRefused
from wallet.autotopup import WalletSettingsError

# Exceptions raised by the shared write functions, as (status, code).
RULE_ERRORS: dict[type[Exception], tuple[int, str]] = {
    OrgRuleError: (status.HTTP_403_FORBIDDEN, "team_rule"),
    WalletSettingsError: (status.HTTP_400_BAD_REQUEST, "wallet_rule"),
    AliasTaken: (status.HTTP_409_CONFLICT, "alias_exists"),
    CredentialRefused: (status.HTTP_400_BAD_REQUEST, "byok_key_refused"),
}
DEFAULT_CODES = {
    exceptions.NotFound: "not_found",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.Throttled: "throttled",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "parse_error",
    exceptions.NotAcceptable: "not_acceptable",
}


def _body(status_code: int, code: str, message: str, fields: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status_code}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    for kind, (status_code, code) in RULE_ERRORS.items():
        if isinstance(exc, kind):
            return Response(_body(status_code, code, str(exc)), status=status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = _error_data(exc, response.status_code)
    return response


def _error_data(exc: exceptions.APIException, status_code: int) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return _body(status_code, "invalid", "The request is not valid; see fields.", exc.detail)
    code = DEFAULT_CODES.get(type(exc))
    if code is None:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    return _body(status_code, code, str(exc.detail))
