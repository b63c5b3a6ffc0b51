"""The core subcommands: run, evaluate, list-models; exit codes and messages."""

from __future__ import annotations

import json

import pytest

from featref.cli import main


def test_run_on_embedded_default_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--epochs",
            "1",
            "--seeds",
            "0",
            "--workers",
            "1",
            "--no-progress",
            "--model-arg",
            "branch_width=8",
            "--output-dir",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "UF1" in text and "UAR" in text and "12 subjects" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_subjects"] == 12 and metrics["model"] == "featref"
    assert json.loads((out / "config.json").read_text())["model"]["kwargs"] == {"branch_width": 8}
    assert main(["evaluate", str(out / "predictions.csv")]) == 0
    text = capsys.readouterr().out
    assert f"{metrics['summary']['all']['uf1']['mean']:.4f}" in text


def test_evaluate_megc_log(tmp_path, capsys):
    log = tmp_path / "log.txt"
    log.write_text("casme2 sub01\nEP02_01f 1 1\nEP19_05f 0 0\nsamm 006\n006_1_2 2 0\n")
    assert main(["evaluate", str(log)]) == 0
    out = capsys.readouterr().out
    assert "3 predictions" in out and "casme2" in out and "samm" in out


@pytest.mark.real_data
def test_evaluate_published_ststnet_log(megc2019_dir, capsys):
    assert main(["evaluate", str(megc2019_dir / "STSTNet_logfile.txt")]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("all")][0]
    assert line.split()[1:4] == ["442", "0.7353", "0.7186"]


def test_list_models(capsys):
    assert main(["list-models"]) == 0
    out = capsys.readouterr().out
    assert "featref" in out and "dual_inception" in out and "6,449,867" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "/nonexistent/p.csv"], "does not exist"),
        (["run", "--model", "featrf"], "Did you mean 'featref'"),
        (["run", "--config", "/nonexistent.toml"], "is not a shipped preset"),
        (["run", "--model-arg", "fusion"], "KEY=VALUE"),
        (["run", "--data", "megc2019", "--data-dir", "/nonexistent"], "Missing paths"),
    ],
)
def test_user_errors_exit_1_with_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_executor_help_names_every_executor_and_each_device_default(capsys):
    from featref.evaluation.executors import DEFAULT_EXECUTORS, EXECUTORS

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    help_text = text[text.index("--executor NAME where units run") :]
    for name in EXECUTORS:
        assert f"{name} (" in help_text, name
    for device, name in DEFAULT_EXECUTORS.items():
        assert f"{name} on --device {device}" in help_text, (device, name)


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as exc:
        main(["run", "--epochs", "many"])
    assert exc.value.code == 2


def _fake_run(folder, correct_every):
    from featref.evaluation.predictions import Prediction, write_predictions

    classes = ("negative", "positive", "surprise")
    rows = []
    for seed in (0, 1):
        for i in range(12):
            truth = classes[i % 3]
            pred = truth if i % correct_every else classes[(i + 1) % 3]
            subject = f"casme2/sub{i // 4:02d}"
            rows.append(Prediction(seed, i // 4, f"{subject}/c{i}", "casme2", subject, truth, pred))
    folder.mkdir()
    write_predictions(folder / "predictions.csv", rows, classes)
    (folder / "metrics.json").write_text(json.dumps({"class_names": list(classes)}))


def test_compare_two_runs(tmp_path, capsys):
    _fake_run(tmp_path / "better", correct_every=6)
    _fake_run(tmp_path / "worse", correct_every=2)
    assert (
        main(["compare", str(tmp_path / "better"), str(tmp_path / "worse"), "--resamples", "200"])
        == 0
    )
    out = capsys.readouterr().out
    assert "UF1: mean +" in out and "sign test 2/0/0" in out and "over 3 subjects" in out
    assert main(["compare", str(tmp_path / "better"), str(tmp_path / "nowhere")]) == 1
