"""Suite-wide fixtures: one torch/OpenCV thread, fixed seeds, and the real-data folder.

Real data (the MEGC2019 files) is looked up in ``$FEATREF_DATA_DIR``, else ``../shared/data``
beside the repository; tests marked ``real_data`` skip with the paths tried when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _single_thread_and_seeds():
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    yield
    torch.set_num_threads(threads)


def shared_data_dir() -> Path:
    """``$FEATREF_DATA_DIR``, else ``../shared/data`` next to the repository."""
    env = os.environ.get("FEATREF_DATA_DIR")
    return (Path(env) if env else Path(__file__).parents[1] / ".." / "shared" / "data").resolve()


@pytest.fixture
def megc2019_dir() -> Path:
    """The folder with the published MEGC2019 flow images, or skip."""
    root = shared_data_dir() / "megc2019"
    if not (root / "STSNet_whole_norm_u_v_os").is_dir():
        pytest.skip(
            f"real data not found: {root} has no STSNet_whole_norm_u_v_os/ "
            "(set FEATREF_DATA_DIR to the folder holding megc2019/)"
        )
    return root
