"""dj-stripe webhook handlers -> ledger. Filled in below."""

from __future__ import annotations
