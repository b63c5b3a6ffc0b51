"""The published MEGC2019 composite flow images (real data; skipped when absent) and fakes."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from featref.datasets.megc2019 import Megc2019Flow
from featref.errors import AnnotationMismatchError, DatasetNotFoundError


@pytest.mark.real_data
def test_published_composite_counts_and_channels(megc2019_dir):
    reader = Megc2019Flow(megc2019_dir)
    flows = reader.load()
    assert len(flows) == 442 and len(set(flows.subjects)) == 68
    assert flows.x.shape == (442, 3, 28, 28) and flows.channels == ("u", "v", "strain")
    assert flows.sample_ids[0] == "casme2/sub01/EP02_01f"
    assert "samm/006" in flows.subjects
    counts = {
        db: np.bincount(flows.labels[np.array(flows.datasets) == db], minlength=3).tolist()
        for db in ("casme2", "samm", "smic")
    }
    assert counts == {"casme2": [88, 32, 25], "samm": [92, 26, 15], "smic": [70, 51, 43]}
    # channel selection by name, in the order asked
    uv = flows.select_channels(("v", "u"))
    assert np.array_equal(uv.x[:, 0], flows.x[:, 1])
    # the header CSV gives the same composite
    alt = Megc2019Flow(megc2019_dir, annotation="combined_3_class2_for_optical_flow.csv").load()
    assert alt.sample_ids == flows.sample_ids and np.array_equal(alt.labels, flows.labels)
    # the published PNG stores (u, v, strain) as RGB: cv2 reads BGR, so u is the last channel
    img = cv2.imread(str(reader.image_path(reader.samples()[0])))
    assert np.allclose(flows.x[0, 0], img[:, :, 2] / 255.0)


@pytest.mark.real_data
def test_missing_and_extra_images_are_listed(megc2019_dir, tmp_path):
    root = tmp_path / "megc2019"
    shutil.copytree(megc2019_dir / "STSNet_whole_norm_u_v_os", root / "STSNet_whole_norm_u_v_os")
    shutil.copy(megc2019_dir / "combined_3class_gt.csv", root)
    (root / "STSNet_whole_norm_u_v_os" / "sub01_EP02_01f .png").unlink()
    (root / "STSNet_whole_norm_u_v_os" / "stray .png").write_bytes(b"")
    with pytest.raises(AnnotationMismatchError, match=r"(?s)casme2/sub01/EP02_01f.*stray \.png"):
        Megc2019Flow(root).load()


def test_wrong_counts_are_reported(tmp_path):
    (tmp_path / "STSNet_whole_norm_u_v_os").mkdir()
    (tmp_path / "combined_3class_gt.csv").write_text("casme2,sub01,EP02_01f,1\n")
    with pytest.raises(AnnotationMismatchError, match="casme2 negative: expected 88, found 0"):
        Megc2019Flow(tmp_path).samples()


def test_missing_folder_lists_every_path_and_instructions(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        Megc2019Flow(tmp_path / "nowhere").check()
    text = str(err.value)
    assert "STSNet_whole_norm_u_v_os" in text and "combined_3class_gt.csv" in text
    assert "featref check-data megc2019_flow --data-dir" in text
    assert "CASME II, SAMM and SMIC-HS" in text
