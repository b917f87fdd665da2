"""Per-owner and escalation digests, deep links and per-item Review buttons (by hand, tiny log)."""

from __future__ import annotations

import json
import re

import pandas as pd

from analytics.governance.digest import build_digest, digest_payload, digest_text
from analytics.governance.digest_items import deep_link, open_recommendations, rec_url, rule_url
from analytics.governance.owner_digests import escalation_digests, owner_digests
from analytics.governance.ownership import decision_status
from tests.governance.test_ownership import NOW, tiny

APP = "https://wb.example/app/"


def _status(now: pd.Timestamp = NOW) -> pd.DataFrame:
    recs, dec, own = tiny()
    return decision_status(recs, dec, own, now=now)


def _ids(items: list[dict]) -> list[str]:
    return [i["rec_id"] for i in items]


def test_links_are_encoded_and_carry_nothing_else() -> None:
    assert rec_url(APP, "REC 1/ä") == "https://wb.example/app/why?rec=REC%201%2F%C3%A4"
    assert rule_url("https://wb.example", "k&1") == "https://wb.example/overrides?rule=k%261"
    assert rec_url(None, "r1") is None and rec_url("", "r1") is None
    assert deep_link(APP, "baseline") == "https://wb.example/app/baseline"


def test_each_owner_gets_only_their_items() -> None:
    nine = NOW + pd.Timedelta(hours=9)  # r3 (ana, due 12:00) is then due in 3 h
    digests = owner_digests(_status(nine), now=nine, app_url=APP)
    assert list(digests) == ["ana", "bea"]  # cy has nothing open; dan owns nothing
    ana, bea = digests["ana"], digests["bea"]
    assert (ana["kind"], ana["recipient"]) == ("owner", "ana")
    assert _ids(ana["top_open"]) == ["r4", "r3"]  # $100 then $30
    assert _ids(ana["breaches"]) == ["r4"] and ana["n_breaches"] == 1
    assert ana["breach_impact_usd"] == 100.0
    assert _ids(ana["due_soon"]) == ["r3"] and ana["due_soon"][0]["hours_to_due"] == 3.0
    assert ana["breaches"][0]["hours_overdue"] == 33.0  # due 01-09 00:00, now 01-10 09:00
    assert _ids(bea["top_open"]) == ["r7"] and _ids(bea["breaches"]) == ["r7"]
    assert bea["due_soon"] == []
    every = {i["rec_id"] for d in digests.values() for k in ("top_open", "breaches", "due_soon")
             for i in d[k]}  # fmt: skip
    assert {i for i in every if i in _ids(ana["top_open"])} <= {"r3", "r4"}
    assert "r7" not in json.dumps(ana) and "r4" not in json.dumps(bea)
    assert ana["top_open"][0]["url"] == "https://wb.example/app/why?rec=r4"


def test_due_soon_window_is_four_hours_by_default() -> None:
    # At 07:00 r3 is due in 5 h: not yet "due soon"; at 08:00 exactly 4 h: due soon.
    at7 = NOW + pd.Timedelta(hours=7)
    assert owner_digests(_status(at7), now=at7)["ana"]["due_soon"] == []
    at8 = NOW + pd.Timedelta(hours=8)
    assert _ids(owner_digests(_status(at8), now=at8)["ana"]["due_soon"]) == ["r3"]
    # Past its due time it is a breach, not due soon.
    at13 = NOW + pd.Timedelta(hours=13)
    ana = owner_digests(_status(at13), now=at13)["ana"]
    assert ana["due_soon"] == [] and _ids(ana["breaches"]) == ["r4", "r3"]


def test_a_named_owner_with_nothing_open_still_gets_a_digest() -> None:
    d = owner_digests(_status(), now=NOW, owners=["cy"])["cy"]
    assert (d["n_open"], d["n_breaches"], d["top_open"], d["breaches"]) == (0, 0, [], [])
    assert "Nothing open." in digest_text(d)


def test_escalations_hold_the_breaches_of_the_people_covered() -> None:
    esc = escalation_digests(_status(), now=NOW, app_url=APP)
    assert list(esc) == ["boss", "boss2"]
    boss = esc["boss"]
    assert boss["kind"] == "escalation" and _ids(boss["breaches"]) == ["r4"]
    assert [o["owner"] for o in boss["breaches_by_owner"]] == ["ana"]
    assert boss["breaches_by_owner"][0]["max_hours_overdue"] == 24.0
    assert _ids(esc["boss2"]["breaches"]) == ["r7"]
    assert "r3" not in json.dumps(boss)  # pending, not a breach
    assert "Breaches of the people you cover" in digest_text(boss)


def test_owner_digest_ids_differ_by_recipient_and_are_stable_within_the_day() -> None:
    t1, t10, t13 = (NOW + pd.Timedelta(hours=h) for h in (1, 10, 13))
    a = owner_digests(_status(t1), now=t1)
    b = owner_digests(_status(t10), now=t10)
    assert a["ana"]["digest_id"] == b["ana"]["digest_id"]  # r3 became due soon: same items
    assert a["ana"]["digest_id"] != a["bea"]["digest_id"]
    c = owner_digests(_status(t13), now=t13)  # r3 breached
    assert c["ana"]["digest_id"] != a["ana"]["digest_id"]
    esc = escalation_digests(_status(t1), now=t1)
    assert esc["boss"]["digest_id"] != a["ana"]["digest_id"]


def test_plant_digest_items_carry_urls_and_due_soon() -> None:
    recs, dec, own = tiny()
    nine = NOW + pd.Timedelta(hours=9)
    rules = [{"id": "k1", "conditions": {"supplier": "S"}, "direction": "reject"}]
    d = build_digest(recs, dec, own, now=nine, app_url=APP, rule_candidates=rules)
    assert [i["url"] for i in d["top_open"]] == [
        "https://wb.example/app/why?rec=r4",
        "https://wb.example/app/why?rec=r7",
        "https://wb.example/app/why?rec=r3",
    ]
    assert _ids(d["due_soon"]) == ["r3"] and d["due_soon"][0]["url"].endswith("rec=r3")
    assert d["rule_candidates"][0]["url"] == "https://wb.example/app/overrides?rule=k1"
    plain = build_digest(recs, dec, own, now=nine, rule_candidates=rules)
    assert plain["top_open"][0]["url"] is None
    assert plain["digest_id"] == d["digest_id"]  # links do not change which items


def test_teams_card_has_a_review_action_per_item() -> None:
    d = owner_digests(_status(NOW + pd.Timedelta(hours=9)), now=NOW + pd.Timedelta(hours=9),
                      app_url=APP)["ana"]  # fmt: skip
    card = digest_payload(d, fmt="teams")["attachments"][0]["content"]
    actions = [
        a
        for block in card["body"]
        if block["type"] == "ColumnSet"
        for col in block["columns"]
        for item in col["items"]
        if item["type"] == "ActionSet"
        for a in item["actions"]
    ]
    # r4 past SLA, r3 due soon, then both again in the open list.
    assert [a["url"].rsplit("=", 1)[1] for a in actions] == ["r4", "r3", "r4", "r3"]
    assert all(a["type"] == "Action.OpenUrl" and a["title"] == "Review" for a in actions)
    assert card["body"][0]["text"] == "Decision digest 2025-01-10 for ana"


def test_slack_message_has_a_link_button_per_item_within_fifty_blocks() -> None:
    d = owner_digests(_status(), now=NOW, app_url=APP)["ana"]
    msg = digest_payload(d, fmt="slack")
    buttons = [b["accessory"] for b in msg["blocks"] if "accessory" in b]
    assert [b["url"] for b in buttons] == [
        "https://wb.example/app/why?rec=r4",
        "https://wb.example/app/why?rec=r4",
        "https://wb.example/app/why?rec=r3",
    ]
    assert len({b["action_id"] for b in buttons}) == 3
    # A plant with many open items: still a valid Slack message, the rest linked inline.
    recs, dec, own = tiny()
    many = pd.concat(
        [recs.assign(rec_id=pd.array([f"{r}-{k}" for r in recs["rec_id"]], dtype="string"))
         for k in range(12)], ignore_index=True,
    )  # fmt: skip
    status = decision_status(many, dec, own, now=NOW)
    big = owner_digests(status, now=NOW, app_url=APP, top_n=40)["ana"]
    blocks = digest_payload(big, fmt="slack")["blocks"]
    assert len(blocks) <= 50
    text = json.dumps(blocks)
    assert text.count("why?rec=") == len(big["breaches"]) + len(big["top_open"])


def test_open_recommendations_are_those_without_a_decision() -> None:
    recs, dec, _ = tiny()
    assert list(open_recommendations(recs, dec)["rec_id"]) == ["r3", "r4", "r7"]
    assert list(open_recommendations(recs, dec.head(0))["rec_id"]) == [f"r{i}" for i in range(1, 8)]
    # Ids of different lengths and a decision whose id is not in the log.
    odd = recs.assign(rec_id=pd.array(["a", "bb", "r3", "dddd", "e", "ff", "g"], dtype="string"))
    more = dec.assign(rec_id=pd.array(["a", "dddd", "zz", "ff"], dtype="string"))
    assert list(open_recommendations(odd, more)["rec_id"]) == ["bb", "r3", "e", "g"]


SLACK_HOSTILE = "<!channel> <@U0PHISH> <http://phish.example|Reset> *bold* _it_ ~gone~ `code` &amp;"


def _mrkdwn_texts(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "mrkdwn" else []
        return found + [t for v in node.values() for t in _mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _mrkdwn_texts(v)]
    return []


def test_slack_digest_shows_peoples_mentions_links_and_marks_as_text() -> None:
    """An owner's name, a site, a SKU and a rule's supplier carrying Slack syntax: no
    mention, link or formatting reaches Slack from them (issue 17)."""
    recs, dec, own = tiny()
    recs["site"] = recs["site"].cat.rename_categories({"P1": f"P1 {SLACK_HOSTILE}"})
    recs["sku"] = recs["sku"].cat.rename_categories({"A": f"A {SLACK_HOSTILE}"})
    own = own.assign(
        owner=own["owner"].astype(str).replace({"ana": f"ana {SLACK_HOSTILE}"}),
        site=own["site"].astype(str).replace({"P1": f"P1 {SLACK_HOSTILE}"}),
    )
    rules = [{"id": "k1", "conditions": {"supplier": f"SUP-017 {SLACK_HOSTILE}"},
              "direction": "increase", "support": 12, "confidence": 0.9,
              "median_adjustment_pct": 25.0}]  # fmt: skip
    status = decision_status(recs, dec, own, now=NOW)
    digests = [
        build_digest(recs, dec, own, now=NOW, rule_candidates=rules, app_url=APP),
        *owner_digests(status, now=NOW, app_url=APP).values(),
    ]
    assert any("ana" in d.get("recipient", "") for d in digests[1:])
    for d in digests:
        msg = digest_payload(d, fmt="slack", app_url=APP)
        texts = _mrkdwn_texts(msg["blocks"])
        joined = "\n".join(t["text"] for t in texts) + "\n" + msg["text"]
        assert "phish" in joined  # the words are there
        assert all(t.get("verbatim") is True for t in texts)  # no auto-linked URL or @here
        # Every <…> is a link this workbench wrote; none comes from people's words.
        tokens = re.findall(r"<([^>]*)>", joined)
        assert all(t.startswith(APP.rstrip("/")) for t in tokens), tokens
        assert "<!channel>" not in joined and "&lt;!channel&gt;" in joined
        assert "&amp;amp;" in joined  # an entity typed by a person shows as typed
        for mark in ("*bold*", "_it_", "~gone~", "`code`"):
            assert mark not in joined, mark
        assert "\u2217bold\u2217" in joined  # look-alikes: the word reads the same
