"""Which agent a function runs, decided in this order:

1. the configuration key ``chaosthundra_agent`` ("thundra" or "catchpoint");
2. evidence in the function's configuration (handler, layers, agent variables), unless
   the package bundles the other generation, which is then what runs;
3. the deployment package: fetched from ``GetFunction``'s ``Code.Location`` and read
   for the agent it bundles (cached by CodeSha256);
4. container images have no package to read: the configuration key, or ``verify``.

The package, when it can be had, is also what the agent check runs with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from chaosthundra.agents import CONFIG_KEY, PROFILES, by_name
from chaosthundra.agents.package import Bundled, PackageUnavailable, bundled_in, fetch
from chaosthundra.agents.profile import AgentProfile
from chaosthundra.endpoints import resolve_endpoint_url

__all__ = ["Detection", "detect"]

logger = logging.getLogger("chaostoolkit")


@dataclass(frozen=True)
class Detection:
    """The agent a function runs (None: no agent, or cannot tell) and how it was decided.

    ``how`` is "configuration key", "configuration", "package" or "unknown";
    ``bundled`` is what its package holds, when the package could be read;
    ``unavailable`` says why the package could not be read.
    """

    profile: Optional[AgentProfile]
    how: str
    evidence: str
    bundled: Optional[Bundled] = None
    unavailable: str = ""

    @property
    def no_agent(self) -> bool:
        """True only when the function surely runs no agent."""
        return self.profile is None and self.bundled is not None


def detect(lam: BaseClient, function: dict, configuration: Optional[dict]) -> Detection:
    """Decide which agent ``function`` (its configuration) runs; ValueError for a bad key."""
    variables = dict(((function.get("Environment") or {}).get("Variables")) or {})
    bundled, unavailable = _package(lam, function, resolve_endpoint_url(configuration or {}))
    chosen = (configuration or {}).get(CONFIG_KEY)
    if chosen:
        profile = by_name(chosen)
        return Detection(
            profile, "configuration key", f"{CONFIG_KEY}={chosen}", bundled, unavailable
        )
    for profile in PROFILES:
        evidence = profile.evidence_in(function, variables)
        if evidence and not _contradicted(profile, bundled):
            return Detection(profile, "configuration", evidence, bundled, unavailable)
    if bundled is not None:
        return Detection(
            bundled.profile, "package", f"its package bundles {bundled.describe()}", bundled
        )
    return Detection(None, "unknown", "", None, unavailable)


def _contradicted(profile: AgentProfile, bundled: Optional[Bundled]) -> bool:
    """The package bundles the other agent: it is what runs (the handler is not a layer's)."""
    return bundled is not None and bundled.profile not in (None, profile)


def _package(
    lam: BaseClient, function: dict, endpoint_url: Optional[str]
) -> tuple[Optional[Bundled], str]:
    if function.get("PackageType") == "Image":
        return None, "it is a container image, which has no package to read"
    name = function["FunctionName"]
    try:
        answer: dict[str, Any] = lam.get_function(FunctionName=name)
    except ClientError as error:
        return None, f"GetFunction failed: {error.response.get('Error', {}).get('Code')}"
    sha = answer.get("Configuration", {}).get("CodeSha256") or function.get("CodeSha256", "")
    try:
        root = fetch(answer.get("Code") or {}, sha, endpoint_url)
    except PackageUnavailable as error:
        logger.debug("chaosthundra: the package of '%s' cannot be read: %s", name, error)
        return None, str(error)
    bundled = bundled_in(root)
    logger.debug("chaosthundra: the package of '%s' bundles %s", name, bundled.describe())
    return bundled, ""
