"""Predictions CSV, summaries and the MEGC2019 log format."""

from __future__ import annotations

import pytest

from featref.errors import AnnotationError
from featref.evaluation.metrics import uar, uf1
from featref.evaluation.predictions import (
    Prediction,
    read_megc_log,
    read_predictions,
    seed_ensemble_scores,
    summarise,
    write_megc_log,
    write_predictions,
)

CLASSES = ("negative", "positive", "surprise")


def _rows():
    out = []
    for seed in (0, 1):
        for i, (t, p) in enumerate(
            [
                ("negative", "negative"),
                ("positive", "surprise"),
                ("surprise", "surprise"),
                ("negative", "positive"),
            ]
        ):
            db = "casme2" if i < 2 else "samm"
            out.append(
                Prediction(
                    seed,
                    i,
                    f"{db}/s{i}/c{i}",
                    db,
                    f"{db}/s{i}",
                    t,
                    p if seed == 0 else t,
                    (0.2, 0.3, 0.5),
                    (0.1, 0.9, 0.5),
                )
            )
    return out


def test_csv_round_trip(tmp_path):
    rows = _rows()
    write_predictions(tmp_path / "predictions.csv", rows, CLASSES)
    assert read_predictions(tmp_path / "predictions.csv") == rows
    head = (tmp_path / "predictions.csv").read_text().splitlines()[0]
    assert head.startswith("seed,fold,test_subject,sample_id,dataset,subject,y_true,y_pred,prob_")
    assert "attention_surprise" in head


def test_summary_mean_and_std_over_seeds():
    m = summarise(_rows(), CLASSES)
    s0 = m["per_seed"]["0"]["all"]["uf1"]
    s1 = m["per_seed"]["1"]["all"]["uf1"]
    assert s1 == 1.0
    assert m["summary"]["all"]["uf1"]["mean"] == pytest.approx((s0 + s1) / 2, abs=1e-6)
    assert m["summary"]["all"]["uf1"]["std"] > 0
    assert set(m["summary"]["per_database"]) == {"casme2", "samm"}


def test_seed_ensemble_averages_probabilities_per_sample():
    """Two seeds disagree on one sample; the averaged softmax decides, and the ensemble is scored
    like one seed (overall and per database)."""
    from dataclasses import replace

    a = Prediction(
        0, 0, "casme2/s0/c0", "casme2", "casme2/s0", "negative", "negative", (0.6, 0.3, 0.1), ()
    )
    b = replace(a, seed=1, y_pred="positive", probs=(0.3, 0.4, 0.3))  # mean: negative wins
    c = Prediction(
        0, 1, "samm/s1/c1", "samm", "samm/s1", "surprise", "surprise", (0.1, 0.1, 0.8), ()
    )
    d = replace(c, seed=1, y_pred="positive", probs=(0.0, 0.9, 0.1))  # mean: positive wins
    m = summarise([a, b, c, d], CLASSES)
    ens = m["seed_ensemble"]
    assert ens["seeds"] == [0, 1]
    assert ens["all"]["accuracy"] == 0.5  # negative right, surprise -> positive wrong
    assert ens["per_database"]["casme2"]["accuracy"] == 1.0
    assert ens["per_database"]["samm"]["accuracy"] == 0.0
    assert "seed_ensemble" not in summarise([a, c], CLASSES)  # one seed: nothing to average


def test_megc_log_round_trip(tmp_path):
    rows = [r for r in _rows() if r.seed == 0]
    write_megc_log(tmp_path / "log.txt", rows, CLASSES)
    back = read_megc_log(tmp_path / "log.txt")
    assert [(d, s, c) for d, s, c, _, _ in back] == [tuple(r.sample_id.split("/")) for r in rows]
    assert [CLASSES[t] for *_, t, _ in back] == [r.y_true for r in rows]


def test_megc_log_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("casme2 sub01\nEP02_01f 1 1\nthis is not a line\n")
    with pytest.raises(AnnotationError, match="line 3"):
        read_megc_log(bad)
    (tmp_path / "orphan.txt").write_text("EP02_01f 1 1\n")
    with pytest.raises(AnnotationError, match="before any subject"):
        read_megc_log(tmp_path / "orphan.txt")


@pytest.mark.real_data
def test_published_ststnet_log_gives_published_scores(megc2019_dir):
    # End-to-end regression: STSTNet's published per-sample log, pooled over all 68 folds.
    rows = read_megc_log(megc2019_dir / "STSTNet_logfile.txt")
    assert len(rows) == 442 and len({(d, s) for d, s, *_ in rows}) == 68
    y_true = [t for *_, t, _ in rows]
    y_pred = [p for *_, p in rows]
    assert round(uf1(y_true, y_pred, labels=[0, 1, 2]), 4) == 0.7353
    assert round(uar(y_true, y_pred, labels=[0, 1, 2]), 4) == 0.7186


def test_no_seed_ensemble_without_a_sample_every_seed_predicted():
    rows = _rows()
    disjoint = [r for r in rows if r.seed == 0][:2] + [r for r in rows if r.seed == 1][2:]
    assert seed_ensemble_scores(disjoint, CLASSES) is None
