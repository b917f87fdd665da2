"""A hand-written, paraphrase-heavy override log: six practices nobody phrases the same way.

Written here, not by ``sample_data``'s generator, so theme and rule quality is tested on
wordings we did not design our method around: every practice is typed in ten unrelated
ways (no shared content word across wordings) in five to six languages, and the noise
reasons share words with the practices ("supplier called, all fine", "weekly meeting
moved"). Each practice has the context a planner's habit really has: a supplier in a
quarter, a key account, a machine, a planner on a weekday, a planner and a target, a site
before the weekend — with its direction and size. ``bench/themes.py`` uses it too.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

# practice: (conditions on the generated attributes, direction, adjustment, wordings)
PRACTICES: dict[str, tuple[dict[str, str], str, float, tuple[str, ...]]] = {
    "supplier_q4": (
        {"supplier": "SUP-017", "quarter": "Q4"}, "increase", 0.25,
        ("vendor never makes Christmas", "holiday lead times blow up, add buffer",
         "their trucks stall every winter", "pad quantity for year-end slippage",
         "Lieferant schafft Weihnachten nie", "el proveedor se retrasa en invierno",
         "le fournisseur livre toujours en retard l'hiver", "extra cover before festive shutdown",
         "o fornecedor atrasa no fim do ano", "il fornitore ritarda sempre a dicembre"),
    ),
    "key_account": (
        {"customer": "CUST-042", "rec_type": "demand_revision"}, "decrease", -0.20,
        ("key account inflates first order", "they cancel the difference later",
         "big buyer over-asks then trims", "Kunde bestellt zu viel und storniert",
         "el cliente pide de más y cancela", "le client gonfle sa première commande",
         "o cliente cancela metade depois", "il cliente annulla la differenza",
         "opening order is always padded", "expect a cut after six weeks"),
    ),
    "machine": (
        {"resource": "L07", "rec_type": "production_reschedule"}, "reject", -1.0,
        ("press down for overdue servicing", "maintenance backlog on that asset",
         "the line crawls, start sooner", "Anlage hinkt wegen Wartungsstau hinterher",
         "la máquina va atrasada por mantenimiento", "entretien en souffrance, ligne lente",
         "a linha está atrasada pela manutenção", "la linea è in ritardo per manutenzione",
         "chronic slowness on this cell", "worn tooling, cannot move the slot"),
    ),
    "monday_call": (
        {"decided_by": "k.weber", "weekday": "Mon", "rec_type": "expedite"}, "reject", -1.0,
        ("settled in the weekly meeting", "call agreed to hold",
         "decided at start-of-week review", "im Wochenmeeting entschieden",
         "acordado en la reunión semanal", "décidé en réunion du lundi",
         "decidido na reunião semanal", "deciso nella riunione settimanale",
         "management said no", "team huddle vetoed it"),
    ),
    "inventory_goal": (
        {"decided_by": "j.nguyen", "rec_type": "stockout_risk"}, "decrease", -0.30,
        ("stock too high versus month-end goal", "working capital squeeze",
         "finance wants lower on-hand", "Bestand über Ziel", "exceso de existencias",
         "trop de stock par rapport à l'objectif", "estoque acima da meta",
         "scorte sopra l'obiettivo", "cash target pressure", "shelves already full"),
    ),
    "weekend_crew": (
        {"site": "P2", "weekday": "Fri"}, "increase", 0.15,
        ("weekend shift cover", "Saturday overtime needs material",
         "Wochenendschicht braucht Vorrat", "turno de fin de semana necesita piezas",
         "équipe du samedi à couvrir", "turno do sábado precisa de peças",
         "turno del sabato da coprire", "extra for the weekend crew",
         "no deliveries until Monday", "bridge the Sunday gap"),
    ),
}  # fmt: skip

NOISE = (
    "supplier called, all fine", "customer asked for this", "weekly meeting moved",
    "machine number checked", "stock count corrected", "planner judgement", "adjusted manually",
    "see email", "per my experience", "order typed twice", "manual override", "gut feeling",
    "Lieferant angerufen, alles ok", "el cliente lo pidió", "vu avec le chef", "a pedido do chefe",
)  # fmt: skip

TYPES = ("stockout_risk", "supplier_delay", "demand_revision", "production_reschedule",
         "expedite")  # fmt: skip
PLANNERS = ("k.weber", "j.nguyen", "a.smith", "m.rossi", "l.dupont", "p.silva")


def _vary(rng: np.random.Generator, text: str) -> str:
    """How people retype a phrase: case, a dropped letter, trailing punctuation."""
    u = rng.random()
    if u < 0.3:
        text = text.lower()
    elif u < 0.4:
        text = text.capitalize()
    if rng.random() < 0.15 and len(text) > 8:
        i = int(rng.integers(2, len(text) - 2))
        text = text[:i] + text[i + 1 :]
    if rng.random() < 0.1:
        text += str(rng.choice([".", "!", " ..."]))
    return text


def paraphrase_log(
    *, seed: int = 0, n_background: int = 2400, per_practice: int = 45, noise_rate: float = 0.1
) -> tuple[SimpleNamespace, pd.Series]:
    """Contract frames of the set, and the truth per rec_id (practice name or ``"noise"``).

    Background recommendations are random over the attributes, overridden at
    ``noise_rate`` with a noise reason in a random direction; each practice adds
    ``per_practice`` overrides of its context, direction and size, worded at random
    from its ten wordings, plus a few accepted recommendations of the same context.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-06T09:00", tz="UTC")  # a Monday
    rows: list[dict[str, object]] = []

    def base(i: int) -> dict[str, object]:
        return {
            "rec_id": f"P{i:05d}",
            "rec_type": str(rng.choice(TYPES)),
            "site": str(rng.choice(["P1", "P2", "P3"])),
            "supplier": f"SUP-{int(rng.integers(1, 30)):03d}",
            "customer": f"CUST-{int(rng.integers(1, 60)):03d}",
            "resource": f"L{int(rng.integers(1, 12)):02d}",
            "decided_by": str(rng.choice(PLANNERS)),
            "created_at": start + pd.Timedelta(days=int(rng.integers(0, 730)), hours=1),
            "recommended_qty": float(rng.integers(50, 500)),
        }

    for i in range(n_background):
        row = base(i)
        if rng.random() < noise_rate:
            u = rng.random()
            adj = -1.0 if u < 0.2 else float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.4))
            row.update(reason=_vary(rng, str(rng.choice(NOISE))), truth="noise")
        else:
            adj = 0.0
            row.update(reason=None, truth="")
        row["adj"] = adj
        rows.append(row)
    i = n_background
    for name, (cond, _direction, adj, wordings) in PRACTICES.items():
        for j in range(per_practice + 5):
            row = base(i)
            i += 1
            for attr, value in cond.items():
                if attr == "quarter":  # a day in Q4
                    row["created_at"] = pd.Timestamp("2025-10-01T09:00", tz="UTC") + pd.Timedelta(
                        days=int(rng.integers(0, 90)) + 365 * int(rng.integers(0, 2))
                    )
                elif attr == "weekday":
                    ts = pd.Timestamp(row["created_at"])  # type: ignore[arg-type]
                    shift = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun").index(value)
                    row["created_at"] = ts - pd.Timedelta(days=ts.day_of_week - shift)
                else:
                    row[attr] = value
            follows = j < per_practice  # the rest of the context was accepted as proposed
            text = _vary(rng, str(rng.choice(wordings))) if follows else None
            size = adj * (1 + rng.normal(0, 0.03)) if adj > -1 else -1.0
            row.update(reason=text, truth=name if follows else "", adj=size if follows else 0.0)
            rows.append(row)
    frame = pd.DataFrame(rows)
    return _frames(frame), frame.set_index("rec_id")["truth"]


def _frames(rows: pd.DataFrame) -> SimpleNamespace:
    adj = rows["adj"].to_numpy(dtype=float)
    decision = np.where(adj == -1.0, "rejected", np.where(adj != 0, "modified", "accepted"))
    final = np.where(adj == -1.0, 0.0, np.round(rows["recommended_qty"] * (1 + adj)))
    created = pd.to_datetime(rows["created_at"], utc=True).astype("datetime64[us, UTC]")
    recs = pd.DataFrame(
        {
            "rec_id": pd.array(rows["rec_id"], dtype="string"),
            **{c: pd.Categorical(rows[c]) for c in
               ("rec_type", "site", "supplier", "customer", "resource")},
            "created_at": created,
            "recommended_qty": rows["recommended_qty"].astype(float),
        }
    )  # fmt: skip
    dec = pd.DataFrame(
        {
            "rec_id": recs["rec_id"],
            "decided_at": created + pd.Timedelta(hours=2),
            "decided_by": pd.Categorical(rows["decided_by"]),
            "decision": pd.Categorical(decision),
            "final_qty": final,
            "reason": pd.array(rows["reason"], dtype="string"),
        }
    )
    out = pd.DataFrame({"rec_id": pd.array([], dtype="string")})
    return SimpleNamespace(recommendations=recs, decisions=dec, outcomes=out)
