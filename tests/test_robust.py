"""Text that used to hang or crash a run: long runs (linear-time patterns), lone surrogates."""

from __future__ import annotations

import time

from nlp.normalize import normalize
from nlp.pipeline import Annotator
from nlp.registry import Registry


def test_long_runs_and_surrogates_through_the_annotator(trained):
    annotator = Annotator(Registry(trained).load())
    for run in ("1", "一", "某", "局", "(", "1.", "3元"):
        t0 = time.time()
        out = annotator.annotate_texts([run * (100_000 // len(run))])
        assert len(out) == 1
        assert time.time() - t0 < 30, run  # was minutes (quadratic patterns); generous bound for busy CI
    out = annotator.annotate_texts(["某县民政局\udc80对低保申请长期不予答复\ud800"])
    assert len(out) == 1 and out["质量"].iloc[0] in ("合格", "低质")
    assert "\ufffd" in normalize("a\udc80b") and normalize(normalize("a\udc80b")) == normalize("a\udc80b")
