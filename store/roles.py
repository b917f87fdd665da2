"""Roles and what each may write. Every store write checks here, not only the UI."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("planner", "sop_lead", "exec", "admin")

# action -> roles allowed to perform it
PERMISSIONS: dict[str, frozenset[str]] = {
    "decide": frozenset({"planner", "sop_lead", "admin"}),
    "rule_status": frozenset({"sop_lead", "admin"}),
    "policy_export": frozenset({"sop_lead", "admin"}),
    "import": frozenset({"sop_lead", "admin"}),
    "ownership": frozenset({"admin"}),
    "users": frozenset({"admin"}),
    "settings": frozenset({"admin"}),
    "digest": frozenset({"sop_lead", "admin"}),
    "monitor_ack": frozenset({"sop_lead", "admin"}),
}


class PermissionDenied(PermissionError):
    """The acting user's role may not perform this write."""


def can(role: str | None, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())


def require(role: str | None, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``role`` may perform ``action``."""
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}")
    if not can(role, action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise PermissionDenied(
            f"role {role!r} may not {action.replace('_', ' ')} (allowed: {allowed})"
        )
