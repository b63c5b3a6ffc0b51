"""Bad config values: TOML files, --model-arg and other flags of ``featref run``."""

from __future__ import annotations

import pytest

from featref.config import load_config

from .conftest import fails

# (TOML text, strings the message must hold: the key, what it must be / the valid values)
BAD_TOML = [
    ('[train]\nepochs = "ten"\n', ["`epochs` in [train]", "must be an integer", "'ten'"]),
    ("[train]\nepochs = 1.5\n", ["`epochs` in [train]", "must be an integer", "1.5"]),
    ("[train]\nepochs = true\n", ["`epochs` in [train]", "must be an integer", "a boolean"]),
    ('[train]\nbatch_size = "32"\n', ["`batch_size` in [train]", "must be an integer"]),
    ('[train]\nclass_weighting = "yes"\n', ["`class_weighting`", "true or false", "'yes'"]),
    ("[train]\nclass_weighting = 1\n", ["`class_weighting`", "true or false"]),
    ('[train]\nlr = "fast"\n', ["`lr` in [train]", "must be a number"]),
    ("[train]\nlr = nan\n", ["`lr` in [train]", "must be a number"]),
    ("[train]\nlr = -1.0\n", ["`lr` in [train] is out of range", "lr > 0"]),
    ("[train]\nseeds = 0\n", ["`seeds` in [train]", "a list of integers"]),
    ('[train]\nseeds = ["a"]\n', ["`seeds` in [train]", "a list of integers"]),
    ('[train]\ndevice = "tpu"\n', ["`device` in [train]", "'cpu' or 'cuda'"]),
    ("[train]\nepoch = 3\n", ["Unknown key(s) ['epoch'] in [train]", "Valid keys"]),
    ('[data]\nchannels = "u,v"\n', ["`channels` in [data]", "a list of strings"]),
    ('[data]\nchannels = ["u", "w"]\n', ["`channels` in [data]", "distinct names"]),
    ('[data]\nsource = "casme9"\n', ["`source` in [data]", "must be one of"]),
    ('[data]\ndatabases = "casme2"\n', ["`databases` in [data]", "a list of strings"]),
    ("[trian]\n", ["Unknown section(s) ['trian']", "Valid sections"]),
    ("data = 3\n", ["[data]", "must be a table"]),
    ("not toml [", ["is not valid TOML"]),
    ('[model]\nname = "nope"\n', ["Unknown model 'nope'", "featref"]),
    ("[model]\nname = 3\n", ["`name` in [model]", "a string"]),
    ("[model.kwargs]\natention = false\n", ["['atention']", "attention (default 'proposal')"]),
    ('[model.kwargs]\nproposal = "off"\n', ["`proposal` in [model.kwargs]", "true or false"]),
    ('[model.kwargs]\nattention = "off"\n', ["`attention`", "'proposal'", "'none'"]),
    ("[model.kwargs]\nattention = false\n", ["`attention` in [model.kwargs]", "'proposal'"]),
    ('[model.kwargs]\nfusion = "max"\n', ["fusion", "concat"]),
    ("[model.kwargs]\nbranch_width = 1.5\n", ["`branch_width` in [model.kwargs]", "integer"]),
    ("[model.kwargs]\nstream_filters = 6\n", ["`stream_filters`", "a list of integers"]),
    ("[select.grid]\nlr = 0.1\n", ["[select.grid] lr", "non-empty list"]),
    ('[select.grid]\nepochs = ["a"]\n', ["`epochs` in [select.grid]", "integer"]),
    ("[select.grid]\nmodel.fusoin = ['sum']\n", ["model.fusoin", "no keyword argument"]),
    ("[select]\ninner_folds = 1\n", ["`inner_folds` in [select]", "0 (leave-one-subject-out)"]),
    ('[select]\ninner_folds = "4"\n', ["`inner_folds` in [select]", "integer"]),
]


@pytest.mark.parametrize(("text", "needles"), BAD_TOML, ids=[t for t, _ in BAD_TOML])
def test_bad_toml_value_is_one_clear_error(cli, tmp_path, text, needles):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    res = cli("run", "--config", f, "--output-dir", tmp_path / "out")
    fails(res, *needles)
    if "TOML" not in needles[0]:
        assert str(f) in res.err  # the message names the file to fix
    assert not (tmp_path / "out").exists()  # nothing was run


BAD_FLAGS = [
    (["--model-arg", "proposal=off"], ["`proposal` in [model.kwargs]", "true or false", "flag"]),
    (["--model-arg", "spatial_attention=1"], ["`spatial_attention`", "true or false"]),
    (["--model-arg", "attention=off"], ["`attention`", "'proposal'", "'gate'", "'none'"]),
    (["--model-arg", "atention=false"], ["['atention']", "Valid:"]),
    (["--model-arg", "fusion=max"], ["fusion", "concat"]),
    (["--model-arg", "noequals"], ["--model-arg must look like KEY=VALUE"]),
    (["--model", "featrf"], ["Unknown model 'featrf'", "Did you mean 'featref'"]),
    (["--seeds", "0,a"], ["--seeds must be comma-separated integers"]),
    (["--channels", "u,w"], ["`channels` in [data]", "distinct names"]),
    (["--config", "no_such_preset"], ["is not a shipped preset", "Presets:"]),
]


@pytest.mark.parametrize(("argv", "needles"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flag_is_one_clear_error(cli, tmp_path, argv, needles):
    fails(cli("run", *argv, "--output-dir", tmp_path / "out"), *needles)


def test_accepted_booleans_and_numbers_are_read_exactly(tmp_path):
    # Accepted: TOML true/false for booleans, an integer where a number is asked (1 -> 1.0),
    # lists for tuples; the values are the ones written, never a truthy reading of a word.
    f = tmp_path / "ok.toml"
    f.write_text("[train]\nlr = 1\nclass_weighting = false\n[model.kwargs]\nproposal = false\n")
    cfg = load_config(f, {"model": {"kwargs": {"stream_filters": [4, 8]}}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.class_weighting is False
    assert cfg.model.kwargs == {"proposal": False, "stream_filters": [4, 8]}
