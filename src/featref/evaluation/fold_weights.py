"""Leave-one-subject-out predictions from published per-fold weights (no training).

Some authors release one weight file per test subject of the leave-one-subject-out protocol,
e.g. STSTNet's ``STSTNet_Weights/<subject>.pth`` (``sub01.pth``, ``006.pth``, ``s01.pth``).
Each subject's samples are predicted by the model of its own fold only, so the scores are those
of the release itself: featref trains nothing and chooses nothing here.

A release also fixes its input encoding (channel order, value scale). ``INPUT_ENCODINGS`` maps
featref's flow arrays (channels as named, values in [0, 1]) to such an encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from featref.datasets.flowset import FlowSet
from featref.errors import CheckpointError, ConfigError, DatasetNotFoundError
from featref.evaluation.predictions import Prediction

__all__ = ["INPUT_ENCODINGS", "predict_with_fold_weights", "ststnet_release_input", "weight_path"]


def ststnet_release_input(x: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """featref's (u, v, strain) in [0, 1] -> the STSTNet release's input.

    The release reads the published 8-bit images with ``cv2.imread`` and feeds them unscaled:
    OpenCV returns BGR, and the images are RGB = (u, v, strain) (the composite's documentation),
    so the network sees (strain, v, u) with values 0-255.
    """
    if tuple(channels) != ("u", "v", "strain"):
        raise ConfigError(
            f"The STSTNet release encoding needs channels u, v, strain; got {tuple(channels)}."
        )
    # the source images are 8-bit: round back to their integer levels before reordering
    return np.rint(x[:, ::-1] * 255.0).astype(np.float32)


#: Input encodings by name: ``f(x, channels) -> x`` on (N, C, H, W) float32 arrays.
INPUT_ENCODINGS: dict[str, Callable[[np.ndarray, Sequence[str]], np.ndarray]] = {
    "featref": lambda x, channels: x,
    "ststnet_release": ststnet_release_input,
}


def weight_path(weights_dir: Path, subject: str, pattern: str = "{subject}.pth") -> Path:
    """The weight file of one test subject (``subject`` namespaced, e.g. ``"samm/006"``).

    ``pattern`` may use ``{subject}`` (the database's own id, ``006``) and ``{database}``.
    """
    database, bare = subject.split("/", 1)
    return Path(weights_dir) / pattern.format(subject=bare, database=database)


def predict_with_fold_weights(
    flows: FlowSet,
    model_name: str,
    weights_dir: str | Path,
    *,
    pattern: str = "{subject}.pth",
    encoding: str = "featref",
    model_kwargs: dict | None = None,
    device: str = "cpu",
) -> list[Prediction]:
    """Predict every subject's samples with that subject's own fold weights.

    Args:
        flows: All samples; one weight file per subject in ``flows.subjects`` is needed.
        model_name: A registered model whose state-dict keys match the files.
        weights_dir: Folder of the weight files (plain state dicts, as ``torch.save`` writes).
        pattern: File name of a subject's weights (see :func:`weight_path`).
        encoding: A key of :data:`INPUT_ENCODINGS`.
        model_kwargs: Extra arguments of the model factory.
        device: ``"cpu"`` or ``"cuda"``.

    Returns:
        One :class:`Prediction` per sample (seed 0; fold = the subject's index), in data order.

    Raises:
        DatasetNotFoundError: when weight files are missing (all missing ones are listed).
        CheckpointError: when a file is not a state dict of ``model_name`` (strict loading).
    """
    import torch

    from featref.models import create_model
    from featref.training.loop import check_device

    if encoding not in INPUT_ENCODINGS:
        raise ConfigError(f"Unknown encoding {encoding!r}. Known: {sorted(INPUT_ENCODINGS)}.")
    check_device(device)
    subjects = list(dict.fromkeys(flows.subjects))  # data order, each once
    paths = {s: weight_path(Path(weights_dir), s, pattern) for s in subjects}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{len(missing)} of {len(subjects)} subjects have no weight file (pattern "
            f"{pattern!r} in {Path(weights_dir).resolve()}); first: {missing[:5]}. Give the "
            "folder of the release's per-subject files, or --pattern for its naming."
        )
    x = INPUT_ENCODINGS[encoding](flows.x, flows.channels)
    subject_of = np.asarray(flows.subjects)
    names = flows.class_names
    rows: dict[int, Prediction] = {}
    for fold, subject in enumerate(subjects):
        model = create_model(
            model_name,
            num_classes=len(names),
            in_channels=x.shape[1],
            **(model_kwargs or {}),
        )
        state = _load_state_dict(paths[subject])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise CheckpointError(
                f"{paths[subject]} does not hold {model_name!r} weights: {err}"
            ) from None
        model.to(device).eval()
        idx = np.flatnonzero(subject_of == subject)
        with torch.no_grad():
            logits = model(torch.as_tensor(x[idx], device=device))
            probs = torch.softmax(logits.float(), -1).cpu().numpy()
        for i, p in zip(idx, probs):
            rows[int(i)] = Prediction(
                seed=0,
                fold=fold,
                sample_id=flows.sample_ids[i],
                dataset=flows.datasets[i],
                subject=subject,
                y_true=names[int(flows.labels[i])],
                y_pred=names[int(p.argmax())],
                probs=tuple(round(float(v), 6) for v in p),
            )
    return [rows[i] for i in range(len(flows))]


def _load_state_dict(path: Path) -> dict:
    import torch

    try:
        # weights_only: a weight file from elsewhere must not run code when loaded
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a bad file
        raise CheckpointError(f"{path} is not a readable PyTorch weight file: {err}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict.")
    return state
