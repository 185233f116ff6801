"""Sealed reasoning blobs: round trip, tamper detection, foreign keys and blobs, purity of the Responses modules."""

from __future__ import annotations

from gateway.translate.responses import blob as seal

KEY = seal.derive_key("one secret")


def test_a_sealed_payload_round_trips_and_hides_its_text() -> None:
    payload = {"p": "anthropic", "k": "thinking", "t": "secret chain of thought ✓", "s": "sig"}
    blob = seal.seal(payload, KEY)
    assert blob.startswith("qlaud:v1:") and "secret" not in blob
    assert seal.unseal(blob, KEY) == payload


def test_two_seals_of_the_same_payload_differ() -> None:
    assert seal.seal({"t": "x"}, KEY) != seal.seal({"t": "x"}, KEY)


def test_a_tampered_blob_or_another_key_does_not_unseal() -> None:
    blob = seal.seal({"t": "x"}, KEY)
    flipped = blob[:-2] + ("A" if blob[-2] != "A" else "B") + blob[-1]
    assert seal.unseal(flipped, KEY) is None
    assert seal.unseal(blob, seal.derive_key("another secret")) is None


def test_foreign_and_junk_values_do_not_unseal() -> None:
    for value in (None, 42, "gAAAAABopenai-blob", "qlaud:v1:", "qlaud:v1:!!!", "qlaud:v1:" + "A" * 40):
        assert seal.unseal(value, KEY) is None
