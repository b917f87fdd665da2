"""The generated world: sites, rec types, suppliers, customers, planners and owners.

Constants only; every other generator module draws from them.
"""

from __future__ import annotations

import numpy as np

SITES = ("P100", "P200", "W300", "W400", "P500")
# Fixed offsets (no DST) so every timestamp carries an unambiguous offset.
SITE_OFFSET_MIN = np.array([60, -300, 480, -360, 330])
SITE_WEIGHTS = np.array([0.25, 0.22, 0.20, 0.18, 0.15])
LINES_PER_SITE = 6  # site k owns lines L(6k+1)..L(6k+6); L07 is P200's first line.

REC_TYPES = (
    "stockout_risk",
    "supplier_delay",
    "expedite",
    "demand_revision",
    "production_reschedule",
    "maintenance",
    "quality_hold",
)
TYPE_WEIGHTS = np.array([0.25, 0.13, 0.13, 0.18, 0.14, 0.09, 0.08])
QTY_TYPES = REC_TYPES[:5]
UNOWNED_TYPES = ("maintenance", "quality_hold")
ACTIONS = {
    "stockout_risk": "Raise purchase order to cover projected shortage",
    "supplier_delay": "Re-plan supply: confirmed date slipped",
    "expedite": "Expedite open purchase order",
    "demand_revision": "Revise demand plan quantity",
    "production_reschedule": "Reschedule production order to a later slot",
    "maintenance": "Schedule preventive maintenance",
    "quality_hold": "Place incoming lot on quality hold",
}
# Relative response speed per type (expedites are handled fastest).
TYPE_RESPONSE_FACTOR = np.array([0.9, 1.3, 0.5, 1.6, 1.0, 1.4, 1.2])

N_SUPPLIERS = 60
N_CUSTOMERS = 200
SITE_PLANNERS: dict[str, tuple[tuple[str, float], ...]] = {
    "P100": (("a.schmidt", 0.25), ("k.weber", 0.50), ("p.novak", 0.25)),
    "P200": (("j.nguyen", 0.45), ("m.garcia", 0.30), ("e.martin", 0.25)),
    "W300": (("l.chen", 0.35), ("k.weber", 0.45), ("t.ito", 0.20)),
    "W400": (("r.silva", 0.50), ("d.kowalski", 0.30), ("f.dubois", 0.20)),
    "P500": (("h.yilmaz", 0.60), ("d.kowalski", 0.20), ("f.dubois", 0.20)),
}
PLANNERS = tuple(sorted({p for ps in SITE_PLANNERS.values() for p, _ in ps}))

OWNERS_ROWS = (
    ("stockout_risk", "*", "j.nguyen", "s.okafor", 24),
    ("stockout_risk", "W300", "l.chen", "s.okafor", 12),
    ("supplier_delay", "*", "m.garcia", "s.okafor", 48),
    ("expedite", "*", "k.weber", "b.fischer", 12),
    ("expedite", "P200", "e.martin", "b.fischer", 8),
    ("demand_revision", "*", "a.schmidt", "s.okafor", 72),
    ("demand_revision", "P500", "h.yilmaz", "s.okafor", 48),
    ("production_reschedule", "P100", "p.novak", "b.fischer", 24),
    ("production_reschedule", "P200", "e.martin", "b.fischer", 24),
    ("production_reschedule", "W300", "t.ito", "b.fischer", 24),
    ("production_reschedule", "W400", "r.silva", "b.fischer", 24),
    ("production_reschedule", "P500", "d.kowalski", "b.fischer", 24),
)  # maintenance and quality_hold have no owner on purpose (a finding).
UNOWNED_EXPIRY_HOURS = 72.0

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
