"""The HTTP server under mixed, partly invalid, concurrent traffic with clients that hang up or
send slowly (the quick part of benchmarks/reliability.py): no 5xx, no wrong answer, the server
still up, memory flat."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reliability_server  # noqa: E402


def test_the_server_answers_everything_right_under_stress(trained_sentiment):
    record = reliability_server.stress(str(trained_sentiment), requests=600, clients=16)
    assert record["server_errors_5xx"] == 0 and record["wrong_answers"] == 0, record
    assert record["server_alive_after"] and record["hung_up"] >= 2 and record["slow_senders"] >= 2
    assert record["invalid"] > 0 and {"404", "413", "422"} <= set(record["status_counts"])
    # every request got an answer (the hung-up ones send none to answer)
    assert sum(record["status_counts"].values()) == record["requests"] + record["slow_senders"]
    assert record["rss_growth"] < 0.25  # loose here: 600 requests; the benchmark holds 5%
