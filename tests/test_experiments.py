"""Every experiment at a tiny size: it runs, returns its documented columns, writes its figure."""

import json

import pytest
from click.testing import CliRunner

from gatedrnn.cli import main
from gatedrnn.experiments import (bidirectional, gates, gradient_flow, long_dependency,
                                  lstm_vs_gru, params)
from gatedrnn.experiments.claims import evaluate_claims
from gatedrnn.experiments.reproduce import EXPERIMENTS, reproduce

TINY = {"steps": 3, "test_size": 16, "hidden_size": 8}


def _check(result, out_dir, figures: int):
    assert result.rows, "no rows"
    for row in result.rows:
        assert set(result.columns) <= set(row), set(result.columns) - set(row)
    assert len(result.figures) == figures
    for figure in result.figures:
        with open(figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "|" in result.markdown()
    json.dumps(result.to_json(), default=str)


def test_params_counts_are_computed_and_gru_is_three_quarters():
    result = params.run()
    _check(result, None, 0)
    by = {(r["model"], r["bidirectional"]): r for r in result.rows}
    assert by[("nn.LSTM", False)]["params (torch.nn)"] == 5920  # 4·20·(10+20+2) + 4·20·(20+20+2)
    assert by[("nn.GRU", False)]["vs LSTM"] == pytest.approx(0.75)
    assert all(r["params (torch.nn)"] == r["params (gatedrnn)"] for r in result.rows)


def test_gradient_flow(tmp_path):
    result = gradient_flow.run(tmp_path, seeds=1, show_progress=False, lengths=(6,),
                               overrides={"hidden_size": 4})
    _check(result, tmp_path, 1)
    assert {r["model"] for r in result.rows} >= {"RNN", "LSTM", "GRU", "LSTM chrono"}


def test_long_dependency(tmp_path):
    result = long_dependency.run(tmp_path, seeds=1, show_progress=False, lengths=(3, 5),
                                 overrides=TINY)
    _check(result, tmp_path, 1)
    assert {r["setting"] for r in result.rows} == {"chapter", "fair"}
    assert all(0 <= r["accuracy mean"] <= 1 for r in result.rows)


def test_lstm_vs_gru(tmp_path):
    result = lstm_vs_gru.run(tmp_path, seeds=1, show_progress=False, lengths=(4,),
                             overrides=TINY, timing_repeats=1)
    _check(result, tmp_path, 1)
    assert {r["model"] for r in result.rows} == {"LSTM", "GRU"}


def test_steps_to_converge():
    # 1-based step 49 ends the first window of 20 with 19 right answers (95%)
    assert lstm_vs_gru.steps_to_converge([0.0] * 30 + [1.0] * 30) == 49
    assert lstm_vs_gru.steps_to_converge([0.5] * 100) is None


def test_bidirectional(tmp_path):
    result = bidirectional.run(tmp_path, seeds=1, show_progress=False, overrides=TINY)
    _check(result, tmp_path, 1)
    uni = next(r for r in result.rows if r["model"] == "LSTM unidirectional")
    bi = next(r for r in result.rows if r["model"] == "LSTM bidirectional")
    assert bi["encoder params"] == 2 * uni["encoder params"]


def test_matched_hidden_gives_about_the_bidirectional_parameter_count():
    wide = bidirectional.matched_hidden(10, 64)
    per_direction = lambda h: 4 * h * (10 + h + 2)  # noqa: E731
    assert abs(per_direction(wide) / (2 * per_direction(64)) - 1) < 0.02


def test_gates(tmp_path):
    result = gates.run(tmp_path, show_progress=False, overrides=TINY)
    _check(result, tmp_path, 2)
    assert {r["gate"] for r in result.rows} == {"f", "i", "o", "r", "z"}


def test_reproduce_writes_report_and_results_with_claims(tmp_path):
    payload = reproduce(tmp_path, quick=True, seeds=1, show_progress=False,
                        only=["params", "gradient-flow", "bidirectional"], log=lambda m: None,
                        overrides=TINY)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["claims"] == json.loads(json.dumps(payload["claims"], default=str))
    quotes = {c["quote"] for c in saved["claims"]}
    assert "A GRU has ~75% of an LSTM's parameters" in quotes
    assert "## Verdicts" in report and "gradient_flow.png" in report
    assert all(c["verdict"] in ("holds", "does not hold", "holds only when")
               for c in saved["claims"])


def test_claims_skip_experiments_that_did_not_run():
    assert evaluate_claims({}) == []


def test_cli_experiment_and_reproduce(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["experiment", "params", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["name"] == "params"
    result = runner.invoke(main, ["reproduce", "--only", "params", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "A GRU has ~75% of an LSTM's parameters: holds" in result.output
    result = runner.invoke(main, ["experiment", "nonsense"])
    assert result.exit_code != 0 and "nonsense" in result.output
    assert set(EXPERIMENTS) == {"params", "gradient-flow", "long-dependency", "lstm-vs-gru",
                                "bidirectional", "gates", "bidirectional-pos"}


def test_bidirectional_pos_on_a_tiny_treebank(tmp_path, ud_treebank):
    from gatedrnn.experiments import bidirectional_pos
    result = bidirectional_pos.run(tmp_path, quick=True, show_progress=False, data=ud_treebank,
                                   overrides={"hidden": 8, "epochs": 1, "limit": None})
    _check(result, tmp_path, 2)
    assert {(r["cell"], r["direction"]) for r in result.rows} == {
        (cell, d) for cell in ("LSTM", "GRU")
        for d in ("unidirectional", "bidirectional", "unidirectional, same params")}
    by = {(r["cell"], r["direction"]): r for r in result.rows}
    bi, wide = by[("LSTM", "bidirectional")], by[("LSTM", "unidirectional, same params")]
    assert abs(wide["encoder params"] - bi["encoder params"]) / bi["encoder params"] < 0.1
    claims = evaluate_claims({"bidirectional-pos": result})
    assert len(claims) == 1 and claims[0].experiment == "bidirectional-pos"


def test_bidirectional_pos_without_a_treebank_says_how_to_get_one(tmp_path, monkeypatch):
    from gatedrnn.experiments.reproduce import default_experiments
    monkeypatch.setenv("GATEDRNN_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GATEDRNN_UD_DIR", raising=False)
    result = CliRunner().invoke(main, ["experiment", "bidirectional-pos", "--quick",
                                       "--out", str(tmp_path)])
    assert result.exit_code != 0 and "GATEDRNN_UD_DIR" in result.output
    messages = []
    assert "bidirectional-pos" not in default_experiments(False, log=messages.append)
    assert "skipping bidirectional-pos" in messages[0]
    assert "bidirectional-pos" not in default_experiments(True)
