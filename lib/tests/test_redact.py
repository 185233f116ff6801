from __future__ import annotations

from lib.redact import REDACTED, provider_message, provider_type, redact, stream_error_message


def test_it_redacts_keys_account_ids_and_the_operators_internal_addresses():
    text = (
        "key sk-ant-api03-abcdef123456 for acct_1a2b3c4d5e at https://llm.internal.example:8443/v1?x=1 "
        "from 10.1.2.3:5000, Cloudflare account 0123456789abcdef0123456789abcdef, ops@example.com"
    )
    assert redact(text).count(REDACTED) == 6
    assert "internal" not in redact(text) and "10.1.2.3" not in redact(text)


def test_it_keeps_ordinary_error_prose():
    said = "Rate limit reached for requests. Please try again in 20s."
    assert redact(said) == said


def test_provider_text_is_one_line_and_bounded():
    assert provider_message("a\n  b\tc") == "a b c"
    assert len(provider_message("x" * 10_000)) == 500
    assert provider_type("  ", "api_error") == "api_error" and provider_type("sk-abcdefghijk", "x") == REDACTED


def test_a_stream_error_names_the_type_in_qlauds_words():
    assert stream_error_message("overloaded_error", "") == (
        "The upstream provider reported an error during the stream (type overloaded_error)."
    )
