"""The Ownership page's figures settled once (on write) and judged at any moment on view are
the figures of one ``decision_status`` pass over the whole log at that moment."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.governance.breaches import breach_queue, breaches_by_owner
from analytics.governance.fatigue import fatigue_summary, fatigue_weekly
from analytics.governance.ownership import decision_base, judge_at, sla_rates, unowned_groups
from analytics.governance.ownership_overview import overview_at, settle
from tests.governance.test_ownership import NOW, T, tiny


def test_settled_once_then_judged_at_two_moments_by_hand() -> None:
    settled = settle(decision_base(*tiny()))
    # r1 met, r2 late, r5 expired: decided, so settled for good. r3, r4, r7 are still open.
    assert sorted(settled.live["rec_id"]) == ["r3", "r4", "r7"]
    assert settled.counts[["met", "breached", "pending", "expired"]].sum().tolist() == [1, 2, 0, 1]
    for now, (met, breached, pending), queue in (
        (NOW, (1, 4, 1), ["r4", "r7"]),
        (T("2025-01-10 13:00"), (1, 5, 0), ["r4", "r7", "r3"]),  # r3 was due 01-10 12:00
    ):
        ov = overview_at(settled, now=now)
        overall = ov.sla_overall.iloc[0]
        assert (overall["n_met"], overall["n_breached"], overall["n_pending"]) == (
            met,
            breached,
            pending,
        )
        assert ov.breach_queue["rec_id"].tolist() == queue and ov.n_recs == 7
        assert ov.as_of == now


def test_since_go_live_settles_only_what_was_signalled_from_that_day() -> None:
    settled = settle(decision_base(*tiny()), since=date(2025, 1, 5))
    # Signalled from 01-05: r7 (01-05), r4 (01-08), r3 (01-09), all open: nothing settled yet.
    assert settled.since == date(2025, 1, 5) and settled.n_recs == 3
    assert settled.counts.empty and settled.unowned.empty
    assert settled.first_signal == T("2025-01-05") and settled.last_signal == T("2025-01-09 12:00")
    overall = overview_at(settled, now=NOW).sla_overall.iloc[0]
    assert (overall["n_met"], overall["n_rated"], overall["n_pending"]) == (0, 2, 1)


def _random_log(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A log of ``n`` recommendations over ~10 weeks, about a fifth of them open, owned by a
    matrix with an unowned type, a site override and a row without escalation."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2025-03-01", tz="UTC")
    signal = t0 + pd.to_timedelta(rng.uniform(0, 70 * 24, n), unit="h")
    created = signal + pd.to_timedelta(rng.exponential(2.0, n), unit="h")
    recs = pd.DataFrame(
        {
            "rec_id": pd.array([f"x{i:05d}" for i in range(n)], dtype="string"),
            "rec_type": pd.Categorical(rng.choice(["expedite", "reorder", "spare"], n)),
            "site": pd.Categorical(rng.choice(["P1", "P2", "P3"], n)),
            "signal_at": pd.Series(signal).astype("datetime64[us, UTC]"),
            "created_at": pd.Series(created).astype("datetime64[us, UTC]"),
            "est_impact_usd": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 50.0, n)),
            "sku": pd.Categorical(rng.choice(["A", "B"], n)),
        }
    )
    decided = np.flatnonzero(rng.random(n) < 0.8)
    decision = rng.choice(["accepted", "modified", "rejected", "expired"], len(decided))
    dec = pd.DataFrame(
        {
            "rec_id": recs["rec_id"].iloc[decided].reset_index(drop=True),
            "decided_at": (
                recs["created_at"].iloc[decided]
                + pd.to_timedelta(rng.exponential(20.0, len(decided)), unit="h")
            ).reset_index(drop=True),
            "decided_by": pd.Categorical(rng.choice(["ana", "bo"], len(decided))),
            "decision": pd.array(decision, dtype="string"),
        }
    )
    own = pd.DataFrame(
        {
            "rec_type": ["expedite", "expedite", "reorder"],
            "site": ["*", "P2", "*"],
            "owner": ["ana", "bo", "cy"],
            "escalation_to": ["boss", None, "boss"],
            "sla_hours": [24.0, 8.0, 48.0],
        }
    )
    return recs, dec, own


@pytest.mark.parametrize("since", [None, date(2025, 4, 2)])
def test_settled_then_judged_is_one_pass_over_the_log_at_any_moment(since: date | None) -> None:
    base = decision_base(*_random_log(3000, seed=7))
    settled = settle(base, since=since)
    scope = base if since is None else base[base["signal_at"] >= pd.Timestamp(since, tz="UTC")]
    for now in (T("2025-04-20"), T("2025-05-11 06:30"), T("2025-07-01")):
        status = judge_at(scope, now=now)  # the whole log judged at once, as before
        for trend_by in ("owner", "rec_type", "site"):
            for freq in ("week", "month"):
                ov = overview_at(settled, now=now, trend_by=trend_by, freq=freq)
                pd.testing.assert_frame_equal(
                    ov.sla_trend, sla_rates(status, by=trend_by, freq=freq), check_exact=True
                )
        for table, by in ((ov.sla_by_type, "rec_type"), (ov.sla_by_site, "site"),
                          (ov.sla_by_owner, "owner"), (ov.sla_overall, None)):  # fmt: skip
            pd.testing.assert_frame_equal(table, sla_rates(status, by=by), check_exact=True)
        pd.testing.assert_frame_equal(ov.breach_queue, breach_queue(status), check_exact=True)
        pd.testing.assert_frame_equal(
            ov.breaches_by_owner, breaches_by_owner(status), check_exact=True
        )
        weekly = fatigue_weekly(status)
        pd.testing.assert_frame_equal(ov.fatigue_weekly, weekly, check_exact=True)
        pd.testing.assert_frame_equal(
            ov.fatigue_summary, fatigue_summary(weekly, status), check_exact=True
        )
        pd.testing.assert_frame_equal(ov.unowned, unowned_groups(status), check_exact=True)
        assert ov.n_recs == len(status) and 0 < ov.n_breaches < len(settled.live)
