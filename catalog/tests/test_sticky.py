from __future__ import annotations

from catalog import sticky
from catalog.routing import CIRCUIT_HALF_OPEN, CIRCUIT_OPEN, HostHealth, Route
from catalog.tests.test_routing import host, model


def _conversation(turns: int, system: str = "You are an agent.") -> dict:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "fix the bug"}]
    for i in range(turns):
        messages += [{"role": "assistant", "content": f"step {i}"}, {"role": "user", "content": f"result {i}"}]
    return {"model": "deepseek-v3.2", "messages": messages}


def test_every_turn_of_a_conversation_has_the_same_key() -> None:
    keys = {sticky.conversation_key(1, "deepseek-v3.2", _conversation(n)) for n in range(5)}
    assert len(keys) == 1


def test_another_org_model_or_system_prompt_is_another_conversation() -> None:
    base = sticky.conversation_key(1, "m", _conversation(1))
    assert sticky.conversation_key(2, "m", _conversation(1)) != base
    assert sticky.conversation_key(1, "n", _conversation(1)) != base
    assert sticky.conversation_key(1, "m", _conversation(1, system="Other.")) != base


def test_an_anthropic_shaped_body_is_keyed_by_its_system_field() -> None:
    body = {"system": "S", "messages": [{"role": "user", "content": "hi"}]}
    assert sticky.conversation_key(1, "m", body) != sticky.conversation_key(1, "m", {**body, "system": "T"})


def _route() -> Route:
    a, b, c = host("ds", slug="deepseek", hid=501), host("ds", slug="groq", hid=502), host("ds", slug="openai", hid=503)
    return Route(model=model("ds", a, b, c), hosts=(a, b, c), requested="ds")


def test_the_remembered_host_goes_first_and_the_rest_keep_their_order() -> None:
    assert [h.id for h in sticky.prefer(_route(), 503, {}).hosts] == [503, 501, 502]


def test_a_remembered_host_that_is_down_or_recovering_does_not_go_first() -> None:
    for circuit in (CIRCUIT_OPEN, CIRCUIT_HALF_OPEN):
        health = {503: HostHealth(503, circuit=circuit)}
        assert [h.id for h in sticky.prefer(_route(), 503, health).hosts] == [501, 502, 503]


def test_a_forgotten_or_unknown_host_changes_nothing() -> None:
    route = _route()
    assert sticky.prefer(route, None, {}) is route
    assert sticky.prefer(route, 999, {}) is route


def test_only_routes_with_a_choice_among_implicit_caches_are_sticky() -> None:
    assert sticky.worth_it(_route())
    claude = host("c", slug="anthropic", hid=601), host("c", slug="bedrock", hid=602)
    assert not sticky.worth_it(Route(model=model("c", *claude), hosts=claude, requested="c"))
    one = (host("d", slug="deepseek", hid=701),)
    assert not sticky.worth_it(Route(model=model("d", *one), hosts=one, requested="d"))
