"""featref from Python, on the embedded synthetic flow data (no download, well under a minute).

Run it with ``python examples/quickstart.py [OUTPUT_DIR]``. It only calls the public API:
:func:`featref.run`, :func:`featref.load` and :meth:`featref.Result.report`. Every line works the
same in a notebook; swap the preset and ``data_dir`` for real data, e.g.
``featref.run("megc2019_featref", data_dir="/data/megc2019")``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import featref


def main(out: Path) -> None:
    # The embedded synthetic flow (12 subjects, 144 clips), one seed, a short schedule, with the
    # small STSTNet baseline so it finishes in about 30 s on 2 cores; FR is model="featref"
    # (the default), which needs the full 12-epoch schedule to learn this data.
    result = featref.run(model="ststnet", epochs=8, seeds=(0,), workers=2, output_dir=out)
    print(
        f"pooled over {len(result.predictions)} predictions: UF1 {result.uf1:.3f}, "
        f"UAR {result.uar:.3f}"
    )

    # The predictions are plain rows: count the errors per true class.
    errors = Counter(r["y_true"] for r in result.predictions if r["y_true"] != r["y_pred"])
    print("errors per true class:", dict(sorted(errors.items())))

    # A finished run folder reads back the same way (here, or later in another session).
    again = featref.load(out)
    assert again.metrics == result.metrics

    # The HTML report `featref report` writes.
    print("report:", result.report())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/quickstart"))
