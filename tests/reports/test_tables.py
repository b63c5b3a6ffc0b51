"""Numbers of the report tables against featref.evaluation.metrics on the fake run's rows."""

from __future__ import annotations

import csv
import json
import shutil
import warnings

import numpy as np
import pytest

from featref.errors import CacheError
from featref.evaluation import metrics as M
from featref.reports import tables
from featref.reports.runs import load_run

CLASSES = ["negative", "positive", "surprise"]


def _select(rows, **where):
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def _cm(rows):
    return M.confusion_matrix(
        [r["y_true"] for r in rows], [r["y_pred"] for r in rows], labels=CLASSES
    )


def test_load_run_reads_every_column(small_run):
    run = load_run(small_run.path)
    pred = run.predictions
    assert run.class_names == tuple(CLASSES)
    assert run.model == "featref"
    assert len(pred) == len(small_run.rows)
    assert pred.seeds == [0, 1]
    assert pred.datasets == ["casme2", "samm", "smic"]
    assert pred.attention_names == tuple(CLASSES)
    assert pred.probs.shape == (len(pred), 3)
    np.testing.assert_allclose(pred.probs[0], [small_run.rows[0][f"prob_{c}"] for c in CLASSES])
    assert run.features is None
    assert any("features.npz is absent" in n for n in run.notes)
    assert run.log and run.config["model"]["name"] == "featref"


def test_pooled_confusion_sums_folds_and_seeds(small_run):
    pred = load_run(small_run.path).predictions
    rows = small_run.rows
    np.testing.assert_array_equal(tables.pooled_confusion(pred, CLASSES), _cm(rows))
    assert tables.pooled_confusion(pred, CLASSES).sum() == len(rows)
    for db in small_run.datasets:
        got = tables.pooled_confusion(pred, CLASSES, dataset=db)
        np.testing.assert_array_equal(got, _cm(_select(rows, dataset=db)))
    for seed in small_run.seeds:
        got = tables.pooled_confusion(pred, CLASSES, dataset="samm", seed=seed)
        np.testing.assert_array_equal(got, _cm(_select(rows, dataset="samm", seed=seed)))


def test_row_normalise():
    cm = np.array([[2, 2, 0], [0, 0, 0], [1, 0, 3]])
    np.testing.assert_allclose(
        tables.row_normalise(cm), [[0.5, 0.5, 0], [0, 0, 0], [0.25, 0, 0.75]]
    )


def test_per_seed_scores_match_metrics_and_metrics_json(small_run):
    run = load_run(small_run.path)
    table = tables.per_seed_metrics_table(run.predictions, CLASSES)
    assert len(table.rows) == 2 * 4  # seeds x (all + 3 databases)
    for seed, scope, n, uf1, uar, acc in table.rows:
        sel = _select(small_run.rows, seed=seed)
        if scope != "all":
            sel = _select(sel, dataset=scope)
        yt, yp = [r["y_true"] for r in sel], [r["y_pred"] for r in sel]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert uf1 == pytest.approx(M.uf1(yt, yp, labels=CLASSES))
            assert uar == pytest.approx(M.uar(yt, yp, labels=CLASSES))
        assert acc == pytest.approx(M.accuracy(yt, yp))
        assert n == len(sel)
    assert tables.find_metric_mismatches(table, run.metrics) == []
    tampered = json.loads(json.dumps(run.metrics))
    tampered["per_seed"]["1"]["per_database"]["smic"]["uar"] += 0.1
    problems = tables.find_metric_mismatches(table, tampered)
    assert len(problems) == 1 and "seed 1, smic: uar" in problems[0]


def test_summary_table_copies_metrics_json(small_run, tmp_path):
    run = load_run(small_run.path)
    table = tables.summary_table(run.metrics)
    assert [r[0] for r in table.rows] == ["all", "casme2", "samm", "smic"]
    s = run.metrics["summary"]
    assert table.rows[0][1:3] == (s["all"]["uf1"]["mean"], s["all"]["uf1"]["std"])
    assert table.rows[2][3] == s["per_database"]["samm"]["uar"]["mean"]
    csv_path, md_path = table.write(tmp_path)
    with csv_path.open() as fh:
        back = list(csv.DictReader(fh))
    assert float(back[3]["accuracy_std"]) == s["per_database"]["smic"]["accuracy"]["std"]
    md = md_path.read_text()
    mean, std = s["all"]["uf1"]["mean"], s["all"]["uf1"]["std"]
    assert f"| all | {mean:.3f} ± {std:.3f} |" in md
    assert md.count("\n|") == 2 + 4  # header, rule, 4 scopes


def test_subject_accuracy_mean_and_std_over_seeds(small_run):
    rows = tables.subject_accuracy(load_run(small_run.path).predictions)
    assert [r.subject for r in rows][:3] == ["casme2/sub01", "casme2/sub02", "casme2/sub03"]
    assert len(rows) == 9
    for r in rows:
        accs = [
            M.accuracy(
                [x["y_true"] for x in _select(small_run.rows, subject=r.subject, seed=s)],
                [x["y_pred"] for x in _select(small_run.rows, subject=r.subject, seed=s)],
            )
            for s in small_run.seeds
        ]
        assert r.mean == pytest.approx(np.mean(accs))
        assert r.std == pytest.approx(np.std(accs, ddof=1))
        assert r.n_samples == 4 and r.n_seeds == 2


def test_learning_curves_average_every_fold_of_a_seed(small_run):
    log = load_run(small_run.path).log
    curves = tables.learning_curves(log)
    assert [c.seed for c in curves] == [0, 1]
    for c in curves:
        for i, epoch in enumerate(c.epochs):
            recs = [r for r in log if r["seed"] == c.seed and r["epoch"] == epoch]
            losses = [r["loss"] for r in recs]
            assert c.loss_mean[i] == pytest.approx(np.mean(losses))
            assert c.n_folds[i] == 9


def test_learning_curves_from_per_fold_records():
    # the runner's log.jsonl: one record per (seed, fold, epoch)
    log = [
        {"seed": 2, "fold": f, "epoch": e, "lr": 0.01, "loss": f + 1.0 / e, "accuracy": 0.5}
        for f in range(3)
        for e in (1, 2)
    ]
    (curve,) = tables.learning_curves(log)
    assert curve.seed == 2 and curve.epochs.tolist() == [1, 2]
    np.testing.assert_allclose(curve.loss_mean, [2.0, 1.5])
    assert curve.n_folds.tolist() == [3, 3]
    np.testing.assert_allclose(curve.lr, [0.01, 0.01])


def test_attention_by_class(small_run):
    pred = load_run(small_run.path).predictions
    mean, counts = tables.attention_by_class(pred, CLASSES)
    for i, cls in enumerate(CLASSES):
        sel = _select(small_run.rows, y_true=cls)
        assert counts[i] == len(sel)
        expect = [np.mean([r[f"attention_{b}"] for r in sel]) for b in CLASSES]
        np.testing.assert_allclose(mean[i], expect)
    # the fake run puts most attention on the true class's branch
    assert (mean.argmax(axis=1) == np.arange(3)).all()


def test_comparison_table(small_run, write_fake_run, tmp_path):
    other = write_fake_run(tmp_path / "other", datasets=("casme2", "smic"), model="dual_inception")
    runs = [load_run(small_run.path), load_run(other.path)]
    table = tables.comparison_table(runs, ["fr", "di"])
    row = dict(zip(table.columns, table.rows[1]))
    s = runs[1].metrics["summary"]
    assert row["model"] == "dual_inception" and row["n_seeds"] == 2
    assert row["all_uf1_mean"] == s["all"]["uf1"]["mean"]
    assert row["smic_uar_std"] == s["per_database"]["smic"]["uar"]["std"]
    assert row["samm_uf1_mean"] is None  # run "di" has no SAMM
    assert "–" in table.to_markdown()


def test_load_run_errors_name_the_file(small_run, tmp_path):
    with pytest.raises(CacheError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(small_run.path, broken)
    (broken / "metrics.json").unlink()
    with pytest.raises(CacheError, match=r"lacks \['metrics.json'\]"):
        load_run(broken)
    shutil.copy(small_run.path / "metrics.json", broken / "metrics.json")
    text = (broken / "predictions.csv").read_text()
    (broken / "predictions.csv").write_text(text.replace(",positive,", ",happy,", 1))
    with pytest.raises(CacheError, match=r"line \d+: y_\w+ 'happy' is not one of the classes"):
        load_run(broken)
    (broken / "predictions.csv").write_text(text.replace("prob_surprise", "prob_other"))
    with pytest.raises(CacheError, match="prob_surprise"):
        load_run(broken)
