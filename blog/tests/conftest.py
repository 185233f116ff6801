from __future__ import annotations

from qlaud.tests.conftest import _fresh_cache, seeded_catalog  # noqa: F401 - shared fixtures
