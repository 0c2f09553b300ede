"""Which agent a deployment package bundles, read from its files.

Both generations are distributions named ``thundra``; the version in
``thundra-X.Y.Z.dist-info`` and the import package (``thundra`` or ``catchpoint``)
tell them apart. A function's package is fetched from ``GetFunction``'s
``Code.Location`` (a plain HTTPS GET) and kept unpacked under
``~/.cache/chaosthundra/functions/<CodeSha256>`` (``CHAOSTHUNDRA_CACHE_DIR`` moves it),
so it is read once per code version and can be put on the agent check's path.
"""

from __future__ import annotations

import re
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urlsplit

from chaosthundra.agents import PROFILES
from chaosthundra.agents.profile import AgentProfile
from chaosthundra.cache import cache_base, code_dirname, unzip_once

__all__ = ["Bundled", "PackageUnavailable", "bundled_in", "fetch", "unpack"]

DOWNLOAD_TIMEOUT_S = 60
_DIST_INFO = re.compile(r"^thundra-(\d+(?:\.\d+)*)[^/]*\.dist-info$", re.IGNORECASE)


class PackageUnavailable(Exception):
    """The package could not be had (no location, download or unzip failed)."""


@dataclass(frozen=True)
class Bundled:
    """What a package bundles: the agent (or None), its version, where it is unpacked."""

    profile: Optional[AgentProfile]
    version: Optional[str]
    root: Path

    def describe(self) -> str:
        if self.profile is None:
            return "no agent"
        return f"{self.profile.title}, thundra {self.version or '(version unknown)'}"


def bundled_in(root: Path) -> Bundled:
    """Read which agent the unpacked package at ``root`` bundles."""
    names = _top_level(root.iterdir() if root.is_dir() else [])
    return Bundled(*_agent_of(names), root)


def _top_level(entries: Iterable[Path]) -> dict[str, bool]:
    return {entry.name: entry.is_dir() for entry in entries}


def _agent_of(names: dict[str, bool]) -> tuple[Optional[AgentProfile], Optional[str]]:
    version = None
    for name in names:
        found = _DIST_INFO.match(name)
        if found:
            version = found.group(1)
    packages = [p for p in PROFILES if names.get(p.package)]
    if version is not None:
        numbers = tuple(int(part) for part in version.split("."))
        by_version = [p for p in PROFILES if p.ships_in(numbers)]
        if by_version and by_version[0] in packages:
            return by_version[0], version
    return (packages[0], version) if packages else (None, version)


def cache_root() -> Path:
    return cache_base() / "functions"


def unpack(code_sha256: str, data: bytes, root: Optional[Path] = None) -> Path:
    """Unpack a package zip into the cache (once per CodeSha256); its directory."""
    try:
        return unzip_once(root or cache_root(), code_dirname(code_sha256), data)
    except (zipfile.BadZipFile, OSError) as error:
        raise PackageUnavailable(f"the package is not a readable zip ({error})") from error


def fetch(
    code: dict, code_sha256: str, endpoint_url: Optional[str] = None, root: Optional[Path] = None
) -> Path:
    """The unpacked package that ``GetFunction`` describes in ``code`` (its ``Code``).

    With a custom ``endpoint_url`` (an emulator), only a location on that same host is
    fetched: one pointing at AWS would not hold this package.
    """
    root = root or cache_root()
    cached = root / code_dirname(code_sha256)
    if code_sha256 and cached.is_dir():
        return cached
    location = str((code or {}).get("Location") or "")
    if not location.startswith(("http://", "https://")):
        raise PackageUnavailable(
            f"GetFunction gives no downloadable package location (Code: {_brief(code)})"
        )
    if endpoint_url and urlsplit(location).hostname != urlsplit(endpoint_url).hostname:
        raise PackageUnavailable(
            f"the package location is not on the endpoint {endpoint_url} in use"
        )
    try:
        with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT_S) as answer:  # noqa: S310
            data = answer.read()
    except OSError as error:
        raise PackageUnavailable(f"downloading the package failed: {error}") from error
    return unpack(code_sha256, data, root)


def _brief(code: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((code or {}).items()) if k != "Location") or (
        "none"
    )
