"""Resolving the decision owner of each recommendation from the ownership matrix."""

from __future__ import annotations

import pandas as pd

OWNER_COLUMNS = ["owner", "escalation_to", "sla_hours"]


def resolve_owners(recommendations: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    """Owner, escalation and SLA of each recommendation; the most specific row wins.

    Parameters
    ----------
    recommendations
        Needs ``rec_type`` and ``site``.
    owners
        The contract's ``owners`` table: ``rec_type``, ``site`` (``*`` = all sites),
        ``owner``, ``escalation_to``, ``sla_hours``.

    Returns
    -------
    DataFrame indexed like ``recommendations`` with ``owner``, ``escalation_to``,
    ``sla_hours`` (missing where no row applies) and ``owner_scope``
    (``"site"``, ``"*"`` or missing).
    """
    out = pd.DataFrame(index=recommendations.index)
    if recommendations.empty or owners.empty:
        for col in OWNER_COLUMNS:
            out[col] = pd.Series(
                dtype="float64" if col == "sla_hours" else "string", index=out.index
            )
        out["owner_scope"] = pd.Series(dtype="string", index=out.index)
        return out
    own = owners.assign(rec_type=owners["rec_type"].astype(str), site=owners["site"].astype(str))
    keys = pd.DataFrame(
        {
            "rec_type": recommendations["rec_type"].astype(str).to_numpy(),
            "site": recommendations["site"].astype(str).to_numpy(),
        }
    )
    exact = keys.merge(own[own["site"] != "*"], on=["rec_type", "site"], how="left")
    wild = keys[["rec_type"]].merge(
        own[own["site"] == "*"].drop(columns="site"), on="rec_type", how="left"
    )
    has_exact = exact["owner"].notna().to_numpy()
    for col in OWNER_COLUMNS:
        values = exact[col].where(has_exact, wild[col]) if col in exact else wild[col]
        if col == "sla_hours":
            out[col] = values.astype("float64").to_numpy()
        else:
            out[col] = pd.array(values.astype("string").to_numpy(), dtype="string")
    scope = pd.Series(pd.NA, index=out.index, dtype="string")
    scope[has_exact] = "site"
    scope[~has_exact & wild["owner"].notna().to_numpy()] = "*"
    out["owner_scope"] = scope
    return out
