"""``featref list-protocols`` and the error of a protocol preset whose data are missing."""

from __future__ import annotations

from featref.cli import main
from featref.evaluation.protocols import PROTOCOL_PRESETS


def test_list_protocols_has_one_line_each(capsys):
    assert main(["list-protocols"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(PROTOCOL_PRESETS)
    for line, name in zip(lines[1:], PROTOCOL_PRESETS):
        assert line.startswith(name + " ")


def _error(capsys, *argv):
    assert main(list(argv)) == 1
    return capsys.readouterr().err


def test_missing_prepared_data_names_preset_path_and_request(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    text = _error(capsys, "run", "--config", "samm_5class", "--data-dir", str(missing))
    assert "'samm_5class'" in text and str(missing) in text
    assert "featref prepare samm --data-dir <root of samm> --label-scheme samm_5" in text
    assert "SAMM_Micro_FACS_Codes_v2.xlsx" in text  # the reader's download instructions


def test_missing_composite_names_preset_and_path(tmp_path, capsys):
    text = _error(
        capsys, "run", "--config", "megc2019_cross_smic_to_samm", "--data-dir", str(tmp_path)
    )
    assert "'megc2019_cross_smic_to_samm'" in text
    assert str(tmp_path) in text and "combined_3class_gt.csv" in text


def test_missing_data_of_another_config_is_the_plain_error(tmp_path, capsys):
    text = _error(capsys, "run", "--data", "megc2019", "--data-dir", str(tmp_path))
    assert "Protocol preset" not in text and "combined_3class_gt.csv" in text
