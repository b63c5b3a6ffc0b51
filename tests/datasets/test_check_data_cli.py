"""``featref list-datasets`` and ``featref check-data``, called in-process through ``main``."""

from __future__ import annotations

from tests.fakes import make_casme2, make_megc2019, make_samm, make_smic

from featref.datasets import Samm, render_datasets_doc


def test_list_datasets(run_cli, capsys):
    assert run_cli(["list-datasets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(None, 1) == ["casme2", "CASME II"]
    rows = [line.split(None, 1) for line in out]
    assert ["megc2019", "MEGC2019 composite (CASME II + SAMM + SMIC-HS)"] in rows
    assert ["megc2019_flow", "MEGC2019 composite, published flow images"] in rows
    assert run_cli(["list-datasets", "--markdown"]) == 0
    assert capsys.readouterr().out == render_datasets_doc()


def test_missing_database_exact_error_text(run_cli, capsys, tmp_path):
    root = tmp_path / "samm"
    assert run_cli(["check-data", "samm", "--data-dir", str(root)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"featref check-data: error: SAMM was not found under {root}.\n"
        "Missing paths:\n"
        f"  - {root}/SAMM_Micro_FACS_Codes_v2.xlsx\n"
        f"  - {root}/SAMM/*/*\n"
        "\n"
        f"{Samm.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()}\n"
        "\n"
        f"Re-check with: featref check-data samm --data-dir {root}\n"
    )


def test_partial_download_lists_only_what_is_missing(run_cli, capsys, tmp_path):
    make_samm(tmp_path)
    (tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx").unlink()
    assert run_cli(["check-data", "samm", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"  - {tmp_path}/SAMM_Micro_FACS_Codes_v2.xlsx\n" in err
    assert "SAMM/*/*" not in err


def test_counts_per_subject_and_label(run_cli, capsys, tmp_path):
    make_smic(tmp_path)
    assert run_cli(["check-data", "smic", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"SMIC-HS (smic) under {tmp_path}" in out
    assert "4 clips, 3 subjects" in out
    lines = out.splitlines()
    assert lines[lines.index("subject  negative  positive  surprise  total") + 1 :][:4] == [
        "s01             1         1         0      2",
        "s02             0         0         1      1",
        "s11             1         0         0      1",
        "total           2         1         1      4",
    ]
    assert "problems found: 0" in out


def test_problems_printed_and_strict_fails(run_cli, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("FEATREF_DATA_DIR", str(tmp_path))
    make_casme2(tmp_path / "casme2")
    assert run_cli(["check-data", "casme2"]) == 0  # data root from FEATREF_DATA_DIR/<name>
    out = capsys.readouterr().out
    assert "corrections applied: 1\n  - casme2/sub04/EP12_01f: apex '/' -> ''" in out
    assert "problems found: 2\n  - casme2/sub04/EP12_01f: no apex annotated" in out
    assert "  - casme2/sub05/EP09_05f: apex equals onset (69)" in out
    assert run_cli(["check-data", "casme2", "--strict"]) == 1
    err = capsys.readouterr().err
    assert "2 data-quality problem(s) in CASME II" in err and "--strict" in err


def test_casme2_options(run_cli, capsys, tmp_path):
    make_casme2(tmp_path, coding="2019", layout="cropped")
    argv = ["check-data", "casme2", "--data-dir", str(tmp_path), "--coding", "2019"]
    assert run_cli(argv + ["--layout", "cropped"]) == 0
    assert "CASME2-coding-20190701.xlsx" in capsys.readouterr().out
    assert run_cli(["check-data", "samm", "--data-dir", str(tmp_path), "--coding", "2019"]) == 1
    assert "--coding only apply to casme2 and megc2019" in capsys.readouterr().err


def test_composite(run_cli, capsys, tmp_path):
    make_megc2019(tmp_path)
    assert run_cli(["check-data", "megc2019", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "442 clips, 68 subjects" in out
    assert f"ground truth: {tmp_path}/megc2019/combined_3class_gt.csv" in out
    lines = out.splitlines()
    assert lines[lines.index("subject       negative  positive  surprise  total") + 1].split() == [
        "casme2/sub01", "4", "1", "2", "7"
    ]  # fmt: skip
    assert "total              250       109        83    442" in lines
