"""`chaos discover chaosthundra`: the activities, and the functions with injections."""

from __future__ import annotations

import logging

from chaoslib.discovery.discover import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import Configuration, DiscoveredActivities, Discovery, Secrets

__all__ = ["discover", "discover_system", "load_exported_activities"]

logger = logging.getLogger("chaostoolkit")


def discover(discover_system: bool = True) -> Discovery:
    """Discover chaosthundra's activities and, optionally, the functions it can target."""
    from chaosthundra import __version__

    logger.info("Discovering capabilities from chaostoolkit-thundra")
    discovery = initialize_discovery_result("chaostoolkit-thundra", __version__, "thundra")
    discovery["activities"].extend(load_exported_activities())
    if discover_system:
        discovery["system"] = discover_system_safely()
    return discovery


def load_exported_activities() -> list[DiscoveredActivities]:
    """Every action and probe named in the modules' ``__all__``."""
    activities: list[DiscoveredActivities] = []
    activities.extend(discover_actions("chaosthundra.actions"))
    activities.extend(discover_probes("chaosthundra.probes"))
    activities.extend(discover_probes("chaosthundra.load.probes"))
    return activities


def discover_system(configuration: Configuration = None, secrets: Secrets = None) -> dict:
    """The functions in the account and region, each with its active injections."""
    from chaosthundra.endpoints import resolve_region
    from chaosthundra.safety.killswitch import scan

    return {"region": resolve_region(configuration), "functions": scan(configuration, secrets)}


def discover_system_safely() -> dict:
    try:
        return discover_system()
    except Exception as error:  # noqa: BLE001 - discovery must not fail without AWS access
        logger.warning("chaosthundra: could not list Lambda functions: %s", error)
        return {"error": str(error)}
