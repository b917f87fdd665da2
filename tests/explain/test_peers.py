"""Typical values from the peer summary built on write (analytics/explain/peers.py), worked
out by hand on a tiny log, and the same as from the whole log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.explain.peers import peer_values
from analytics.explain.text import typical_values

FEATURES = ["rec_type", "f_x", "f_share_pct", "f_class"]


def _log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rec_id": [f"R{i}" for i in range(7)],
            "rec_type": pd.Categorical(["a", "a", "a", "a", "a", "b", "a"]),
            "site": pd.Categorical(["P1", "P1", "P1", "P1", None, "P1", "P2"]),
            "f_x": [1.0, 2.0, 3.0, np.nan, 10.0, 99.0, 5.0],
            "f_share_pct": [0.2, 0.5, 0.9, 0.1, 0.3, 0.4, 0.6],
            "f_class": pd.Categorical(["u", "v", "v", None, "w", "v", "u"]),
        }
    )


def test_typical_values_worked_out_by_hand() -> None:
    log = _log()
    peers = peer_values(log, {"a": FEATURES, "b": FEATURES})
    t = peers.typical(log.iloc[1], FEATURES).set_index("feature")
    # R1 among type a at P1 (R0..R3): x 1, 2, 3 and one missing
    assert t.loc["f_x", "typical"] == 2.0 and t.loc["f_x", "n_peers"] == 3
    assert t.loc["f_x", "percentile"] == pytest.approx(200 / 3)
    assert t.loc["f_share_pct", "pct_fraction"]  # every share at or below 1: fractions
    assert t.loc["f_class", "typical"] == "v" and t.loc["f_class", "n_peers"] == 3
    assert t.loc["rec_type", "n_peers"] == 4
    # a missing site is a group of its own
    t = peers.typical(log.iloc[4], FEATURES).set_index("feature")
    assert (t.loc["f_x", "typical"], t.loc["f_x", "percentile"]) == (10.0, 100.0)
    # a group never seen (another site): no peers, numbers stay numbers
    rec = log.iloc[1].copy()
    rec["site"] = "P9"
    t = peers.typical(rec, FEATURES).set_index("feature")
    assert t.loc["f_x", "n_peers"] == 0 and np.isnan(t.loc["f_x", "typical"])
    assert t.loc["f_x", "value"] == 2.0


@pytest.mark.parametrize("pos", range(7))
def test_the_summary_gives_what_the_whole_log_gives(pos: int) -> None:
    log = _log()
    peers = peer_values(log, {"a": FEATURES, "b": FEATURES})
    rec = log.iloc[pos]
    pd.testing.assert_frame_equal(
        peers.typical(rec, FEATURES), typical_values(log, rec, FEATURES), check_exact=True
    )
