from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_home_answers_head_quickly_for_claude_code(client):
    assert client.head("/").status_code == 200


@pytest.mark.django_db
def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"qlaud" in response.content
