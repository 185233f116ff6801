"""The benchmark's reporting: rounds folded into medians, and the issue's targets computed from them."""

from bench.run import medians, targets_table


def row(target: str, round_: int, rps: float, p99: float, errors: int = 0, c: int = 16) -> dict:
    return {"mode": "chat-json", "c": c, "target": target, "round": round_, "rps": rps, "p99_ms": p99,
            "p50_ms": p99 / 2, "ttft_p50_ms": 1.0, "errors": errors, "error_samples": []}  # fmt: skip


def test_each_cell_is_the_median_of_its_rounds_and_errors_are_summed():
    rounds = [row("qlaud", 0, 1000, 30), row("qlaud", 1, 600, 80, errors=2), row("qlaud", 2, 1100, 28)]
    (cell,) = medians(rounds)
    assert (cell["rps"], cell["p99_ms"], cell["errors"], cell["rounds"]) == (1000, 30, 2, 3)
    assert "round" not in cell and "error_samples" not in cell


def test_the_targets_are_judged_on_the_medians():
    rounds = [row(t, i, rps, p99) for i in range(3) for t, rps, p99 in (("qlaud", 1000, 30), ("litellm", 80, 400))]
    rounds += [row("direct", i, 9000, 2) for i in range(3)]
    rounds[0] = row("qlaud", 0, 300, 900)  # one slow spell in one round
    table = targets_table(medians(rounds), {"qlaud": 140})
    assert "| throughput vs LiteLLM, c=16 | chat-json | 12.5x | >= 10x | yes |" in table
    assert "| added p99, c=16 | chat-json | 28.0 ms vs LiteLLM 398.0 ms | <= 1/10 | yes |" in table
    assert "| peak RSS per worker | all | 140 MB | <= 150 MB | yes |" in table
