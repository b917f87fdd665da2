"""Hypothesis strategies for hostile bundles, shared by the CI fuzz test and bench/fuzz_load.py."""

from __future__ import annotations

import io
import zipfile

from hypothesis import strategies as st

from contract.tables import TABLES

COLUMNS = sorted({c for spec in TABLES.values() for c in spec.column_names}) + [
    "f_days",
    "f_abc",
    "Confidence",
    "recommended_quantity",
    "sku ",
    "",
]
NASTY = [
    "",
    " ",
    "0",
    "-0",
    "1e309",
    "-1e309",
    "1e-400",
    "1e20",
    "nan",
    "inf",
    "0012",
    "9999-12-31T23:00:00-05:00",
    "0000-01-01",
    "2024-02-30",
    "2024-10-27 02:30:00",
    "2024-03-31 02:30",
    "2025-03-03T08:00:00Z",
    "2025-03-03",
    "R1",
    "R1 ",
    "accepted",
    "modified",
    "rejected",
    "expired",
    "true",
    "yes",
    "P100",
    '=HYPERLINK("x")',
    "a\x00b",
    '"',
    'x"y',
    "line\nbreak",
    "ünïcødé ✓",
    "\ufeff",
    "a;b;c",
    "\\",
]
cells = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
# A plausible value per column kind, so that many rows pass and reach the store.
GOOD = {
    "str": st.sampled_from(["R1", "R2", "R3", "O1", "x"]),
    "category": st.sampled_from(["P100", "stockout_risk", "ann", "EA", "v1", "*"]),
    "float": st.sampled_from(["1", "0.5", "12.25", "100"]),
    "int": st.sampled_from(["0", "3"]),
    "bool": st.sampled_from(["true", "0"]),
    "timestamp": st.sampled_from(
        ["2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", "2025-03-04 10:00"]
    ),
    "date": st.sampled_from(["2025-03-01", "2025-04-01"]),
    "enum": st.sampled_from(["accepted", "modified", "rejected", "expired"]),
}
KIND = {c.name: c.kind for spec in TABLES.values() for c in spec.columns}


@st.composite
def csv_bytes(draw: st.DrawFn, table: str | None = None) -> bytes:
    spec = TABLES.get(table or "")
    if spec is not None and draw(st.integers(0, 3)) != 3:
        # Mostly the table's own columns (so rows get deep into the checks), shuffled,
        # sometimes with a stranger or a near miss among them.
        header = draw(st.permutations(spec.column_names))
        header += draw(st.lists(st.sampled_from(COLUMNS), max_size=2))
    else:
        header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8))

    def row() -> list[str]:
        if draw(st.integers(0, 5)) == 5:  # ragged
            return draw(st.lists(cells, max_size=len(header) + 2))
        return [
            draw(GOOD[KIND[h]]) if h in KIND and draw(st.integers(0, 9)) else draw(cells)
            for h in header
        ]

    rows = [row() for _ in range(draw(st.integers(0, 6)))]
    sep = draw(st.sampled_from([",", ",", ",", ",", ",", ",", ";", "\t"]))

    def line(values: list[str]) -> str:
        out = []
        for v in values:
            if draw(st.booleans()) or any(ch in v for ch in ',;\t"\n'):
                v = '"' + v.replace('"', '""') + '"' if draw(st.booleans()) else v
            out.append(v)
        return sep.join(out)

    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join([line(header), *(line(r) for r in rows)])
    if draw(st.booleans()):
        text += eol
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 9:
        data = draw(st.binary(max_size=64)) + data  # garbage, a BOM, invalid UTF-8
    return data


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, bytes]:
    names = ["recommendations.csv", "Decisions.csv", "outcomes.CSV", "orders.csv",
             "kpi_periods.csv", "owners.csv", "decision.csv", "notes.txt"]  # fmt: skip
    chosen = draw(st.lists(st.sampled_from(names[1:]), max_size=3, unique=True))
    if draw(st.integers(0, 9)) != 9:
        chosen = ["recommendations.csv", *chosen]
    files = {
        name: draw(csv_bytes(name.split(".")[0].lower().rstrip("s") + "s"))
        if name.split(".")[0].lower() != "kpi_periods"
        else draw(csv_bytes("kpi_periods"))
        for name in chosen
    }
    if draw(st.integers(0, 3)) == 3:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in files.items():
                arcname = draw(st.sampled_from([name, f"x/{name}", f"x\\{name}"]))
                zf.writestr(arcname, data)
        raw = buf.getvalue()
        if draw(st.integers(0, 4)) == 4:
            cut = draw(st.integers(0, len(raw)))
            raw = raw[:cut]  # a truncated archive
        return {"bundle.zip": raw}
    return files
