"""Project-wide test fixtures."""

from __future__ import annotations

import os

# Tests render templates without running collectstatic first.
os.environ.setdefault("STATIC_MANIFEST", "0")
