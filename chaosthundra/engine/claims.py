"""Who may write or remove an injection: the owner an enable records (taking over one
provably gone, or with force), and the live owners a removal leaves alone."""

import logging
from dataclasses import replace
from typing import Optional

from chaoslib.exceptions import ActivityFailed

from chaosthundra.engine import owners
from chaosthundra.listeners import (
    decode,
)

logger = logging.getLogger("chaostoolkit")


class Held(ActivityFailed):
    """The injection name is held by another live owner: nothing was written."""


def claim(
    value: Optional[str], me: owners.Owner, force: bool, what: str, taken: list[str]
) -> owners.Owner:
    """The owner to record for an enable over ``value`` (the variable as it is, if any).

    Refuses (``Held``) when another live owner holds it, or when this owner holds it
    under another spelling; takes it over, noting why in ``taken``, when that owner is
    provably gone or ``force`` is given. Keeps the holder's time for its own re-enable.
    """
    holder = holder_of(value)
    if holder is None:
        return me
    name = holder.name or me.name
    if holder.same(me):
        if holder.name and holder.name != me.name and not force:
            raise Held(
                f"chaosthundra: cannot {what}: injection_name '{me.name}' is injection "
                f"'{holder.name}', which this run enabled {owners.age(holder.since)} ago: names "
                f"are case-insensitive. Use '{holder.name}' to replace it, or another name."
            )
        return replace(me, since=holder.since)
    if force:
        taken.append(f"{holder.describe()} (force=True)")
        return me
    why = holder.gone()
    if why is not None:
        taken.append(f"{holder.describe()}: {why}")
        return me
    raise Held(
        f"chaosthundra: cannot {what}: injection '{name}' (names are case-insensitive) is held "
        f"by {holder.describe()}. Wait for that run to end, choose another injection_name, or "
        "pass force=True to take it over (`chaosthundra clear` removes every injection)."
    )


def other_holder(value: str, me: owners.Owner, force: bool) -> Optional[owners.Owner]:
    """Another owner a removal must leave ``value`` to, or None when it may remove it
    (its own, without owner record, or ``force``)."""
    holder = None if force else holder_of(value)
    return None if holder is None or holder.same(me) else holder


def holder_of(value: Optional[str]) -> Optional[owners.Owner]:
    if value is None:
        return None
    try:
        return owners.owner_of(decode(value))
    except (ValueError, OSError, EOFError):
        return None  # unreadable: nobody's, as the faults chaosthundra wrote before owners


def log_left(name: str, where: str, holder: owners.Owner) -> None:
    logger.warning(
        "chaosthundra: left injection '%s' on %s: it belongs to %s, not to this run "
        "(force=True removes it, and so does `chaosthundra clear`)",
        name,
        where,
        holder.describe(),
    )
