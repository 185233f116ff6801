"""AWS Signature Version 4 for the few AWS calls qlaud makes (Bedrock's runtime, and its control plane when an
org's own Bedrock key is checked): one signer on the ground floor, so the gateway and the catalog share it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def sigv4_headers(
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None,
    service: str,
    region: str,
    request: tuple[str, str, Mapping[str, str], bytes],
) -> dict[str, str]:
    """The headers to add to `request` (method, url, headers, body): authorization, x-amz-date, the payload hash."""
    # Imported on first use: botocore's signer pulls in ~17 MB of modules a worker without SigV4 hosts
    # should not carry.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    method, url, headers, content = request
    signed = AWSRequest(method=method, url=url, data=content, headers=dict(headers))
    # Sending the payload hash lets the receiver (and our tests) check it without re-hashing rules.
    signed.headers["X-Amz-Content-SHA256"] = hashlib.sha256(content).hexdigest()
    SigV4Auth(Credentials(access_key_id, secret_access_key, session_token), service, region).add_auth(signed)
    return {k.lower(): v for k, v in signed.headers.items() if k.lower() not in headers}
