"""Span-listener configs: build, check, encode, and read back (pure code).

The agent reads every environment variable whose name starts with its prefix
(see :mod:`chaosthundra.agents`) once per execution environment. Each value is
JSON, or base64(gzip(JSON)) when it does not start with ``{``. Both agent
generations take the same listener types and keys.

chaosthundra writes one variable per named injection, ``<prefix>_CHAOSTHUNDRA_<NAME>``
with the prefix of the agent the function runs. The ``CHAOSTHUNDRA`` marker is how
we recognise our own variables; anything else, including other listeners, is
foreign and never touched.

The agent lower-cases variable names and turns ``_`` into ``.``, so names that
differ only in case collide there. Injection names are therefore
case-insensitive and always written upper-case.

Our values also carry their owner (:mod:`chaosthundra.engine.owners`) under the key
``owner``, which the agents do not read; :func:`parse_injections` gives it apart
from the listener config.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Optional

from chaosthundra.agents import DEFAULT, LEGACY_NOTE, PROFILES, AgentProfile, is_legacy, reader_of
from chaosthundra.agents.profile import InvalidInjection

__all__ = [
    "ENV_LIMIT_BYTES",
    "MAX_DELAY_MS",
    "InvalidInjection",
    "ConfigTooLarge",
    "Injection",
    "env_key",
    "injection_name_of",
    "span_filter",
    "error_listener",
    "latency_listener",
    "encode",
    "decode",
    "env_size",
    "fit_value",
    "parse_injections",
    "is_ours",
]

ENV_LIMIT_BYTES = 4096
# Lambda's maximum function timeout: a longer delay could never be seen.
MAX_DELAY_MS = 900_000

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,39}$")
_DISTRIBUTIONS = ("uniform", "normal")
_DOTTED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# the key of the owner record inside our listener JSON (see chaosthundra.engine.owners)
OWNER_KEY = "owner"


class ConfigTooLarge(InvalidInjection):
    """The environment would exceed Lambda's 4 KB limit even compressed."""


@dataclass(frozen=True)
class Injection:
    """One span-listener variable found in a function's environment."""

    name: str
    kind: str  # "error", "latency", "other", "unreadable" or "legacy"
    env_key: str
    ours: bool
    encoding: str  # "json", "gzip+base64" or "brackets" (legacy)
    config: Optional[dict]
    agent: str = ""  # the profile name of the agent that reads it; "" for legacy
    note: str = ""
    owner: Optional[dict] = None  # its owner record (chaosthundra.engine.owners), apart from config

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------- naming
def env_key(injection_name: str, agent: AgentProfile = DEFAULT) -> str:
    """The environment variable that holds the named injection for ``agent``."""
    if not isinstance(injection_name, str) or not _NAME_RE.match(injection_name):
        raise InvalidInjection(
            f"injection_name {injection_name!r} is not valid: use 1 to 40 letters, digits "
            "or underscores, starting with a letter or digit (for example 'redis_error')."
        )
    return agent.env_key(injection_name)


def env_keys(injection_name: str) -> list[str]:
    """The variables that may hold the named injection, one per agent generation."""
    return [env_key(injection_name, profile) for profile in PROFILES]


def is_ours(key: str) -> bool:
    """True for a variable chaosthundra wrote (for any agent)."""
    return any(profile.is_ours(key) for profile in PROFILES)


def injection_name_of(key: str) -> str:
    """The injection name of one of our variables (lower-case)."""
    for profile in PROFILES:
        if profile.is_ours(key):
            return key[len(profile.our_prefix) :].lower()
    raise ValueError(f"{key} is not a chaosthundra variable")


# ------------------------------------------------------------------- building
def span_filter(
    class_name: Optional[str] = None,
    operation_name: Optional[str] = None,
    domain_name: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    reverse: bool = False,
) -> dict:
    """One span filter; a span matches when every given field matches (AND)."""
    result: dict[str, Any] = {}
    for field, value in (
        ("className", class_name),
        ("operationName", operation_name),
        ("domainName", domain_name),
    ):
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidInjection(f"{_snake(field)} must be a non-empty string, got {value!r}.")
        result[field] = value
    if tags is not None:
        if not isinstance(tags, Mapping) or not tags:
            raise InvalidInjection(
                f"tags must be a non-empty mapping of span tag to value, got {tags!r}. "
                'Example: {"aws.lambda.name": "upstream-lambda"}.'
            )
        for tag, value in tags.items():
            if not isinstance(tag, str) or not tag:
                raise InvalidInjection(f"tag names must be non-empty strings, got {tag!r}.")
            values = value if isinstance(value, list) else [value]
            if not values or not all(_is_scalar(v) for v in values):
                raise InvalidInjection(
                    f"tag {tag!r} must be matched against a string, number, boolean or a "
                    f"non-empty list of those, got {value!r}."
                )
        result["tags"] = dict(tags)
    if not result:
        raise InvalidInjection(
            "no span filter given: an unfiltered listener would hit every span, including the "
            "function's own invocation. Give class_name (for example 'Redis' or 'AWS-Lambda'), "
            "operation_name, domain_name or tags."
        )
    if not isinstance(reverse, bool):
        raise InvalidInjection(f"reverse must be true or false, got {reverse!r}.")
    if reverse:
        result["reverse"] = True
    return result


def _filtering(listener: dict, filters: Iterable[dict], match_all: bool) -> dict:
    filters = list(filters)
    if not filters:
        raise InvalidInjection("at least one span filter is required.")
    config: dict[str, Any] = {"listener": listener, "filters": filters}
    if match_all:
        config["all"] = True
    return {"type": "FilteringSpanListener", "config": config}


def error_listener(
    filters: Iterable[dict],
    error_type: str = "Exception",
    error_message: str = "Error injected by chaosthundra",
    inject_on_finish: bool = False,
    every: int = 1,
    match_all: bool = False,
) -> dict:
    """A FilteringSpanListener around an ErrorInjectorSpanListener.

    ``every`` is the agent's injectCountFreq: the error is raised on 1 matching
    span in ``every``.
    """
    if not isinstance(error_type, str) or not _DOTTED_RE.match(error_type):
        raise InvalidInjection(
            f"error_type {error_type!r} is not a Python exception name: use a builtin such as "
            "'TimeoutError' or a dotted path such as 'redis.ConnectionError'."
        )
    if not isinstance(error_message, str):
        raise InvalidInjection(f"error_message must be a string, got {error_message!r}.")
    if not isinstance(inject_on_finish, bool):
        raise InvalidInjection(f"inject_on_finish must be true or false, got {inject_on_finish!r}.")
    every = _positive_int("every", every, minimum=1)
    listener = {
        "type": "ErrorInjectorSpanListener",
        "config": {
            "errorType": error_type,
            "errorMessage": error_message,
            "injectOnFinish": inject_on_finish,
            "injectCountFreq": every,
            "addInfoTags": True,
        },
    }
    return _filtering(listener, filters, match_all)


def latency_listener(
    filters: Iterable[dict],
    delay: int,
    variation: int = 0,
    sigma: int = 0,
    distribution: str = "uniform",
    match_all: bool = False,
) -> dict:
    """A FilteringSpanListener around a LatencyInjectorSpanListener (milliseconds)."""
    delay = _positive_int("delay", delay, minimum=1, maximum=MAX_DELAY_MS)
    variation = _positive_int("variation", variation, minimum=0, maximum=MAX_DELAY_MS)
    sigma = _positive_int("sigma", sigma, minimum=0, maximum=MAX_DELAY_MS)
    if distribution not in _DISTRIBUTIONS:
        raise InvalidInjection(
            f"distribution {distribution!r} is unknown to the agent, which would silently use "
            f"'uniform': choose one of {', '.join(_DISTRIBUTIONS)}."
        )
    if distribution == "uniform" and sigma:
        raise InvalidInjection(
            "sigma only applies to the 'normal' distribution; the agent ignores it for "
            "'uniform'. Use variation, or set distribution to 'normal'."
        )
    if distribution == "normal" and variation:
        raise InvalidInjection(
            "variation only applies to the 'uniform' distribution; the agent ignores it for "
            "'normal'. Use sigma, or set distribution to 'uniform'."
        )
    if variation > delay:
        raise InvalidInjection(
            f"variation ({variation} ms) must not exceed delay ({delay} ms): the agent would "
            "clamp negative delays to 0 and skew the distribution."
        )
    if delay + variation > MAX_DELAY_MS:
        raise InvalidInjection(
            f"delay + variation ({delay + variation} ms) must not exceed {MAX_DELAY_MS} ms, "
            "Lambda's maximum timeout: no invocation lives to see a longer delay."
        )
    listener = {
        "type": "LatencyInjectorSpanListener",
        "config": {
            "delay": delay,
            "variation": variation,
            "sigma": sigma,
            "distribution": distribution,
            "addInfoTags": True,
        },
    }
    return _filtering(listener, filters, match_all)


# ------------------------------------------------------------------- encoding
def encode(config: Mapping[str, Any], compress: bool = False) -> str:
    """The variable value for a config: compact JSON, or base64(gzip(JSON))."""
    text = json.dumps(config, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if not compress:
        return text
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def decode(value: str) -> dict:
    """Read a listener config the way the agent does (JSON or base64(gzip(JSON)))."""
    value = value.strip()
    if not value.startswith("{"):
        value = gzip.decompress(base64.b64decode(value)).decode("utf-8")
    config = json.loads(value)
    if not isinstance(config, dict):
        raise ValueError("listener config is not a JSON object")
    return config


def env_size(variables: Mapping[str, str]) -> int:
    """Size of an environment as Lambda measures it against 4 KB.

    Lambda measures the JSON of the variables map; this counts its UTF-8 bytes.
    """
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())


def fit_value(config: Mapping[str, Any], key: str, others: Mapping[str, str]) -> str:
    """Encode ``config`` for ``key`` so that the whole environment fits in 4 KB.

    Plain JSON when it fits, else compressed; ConfigTooLarge when neither fits.
    """
    sizes = []
    for compress in (False, True):
        value = encode(config, compress=compress)
        size = env_size({**others, key: value})
        if size <= ENV_LIMIT_BYTES:
            return value
        sizes.append(size)
    raise ConfigTooLarge(
        f"the environment would be {sizes[0]} bytes as JSON and {sizes[1]} bytes compressed, "
        f"over Lambda's {ENV_LIMIT_BYTES}-byte limit ({env_size(others)} bytes are already used "
        "by other variables). Shorten the error message or tags, or remove other injections."
    )


# -------------------------------------------------------------------- reading
def parse_injections(variables: Mapping[str, str]) -> list[Injection]:
    """Every span-listener variable in an environment, ours and foreign, for any agent,
    and listeners in the origin's legacy bracket syntax (kind "legacy")."""
    found = []
    for key in sorted(variables):
        value = variables[key]
        agent = reader_of(key)
        if agent is None:
            if is_legacy(key, value):
                found.append(
                    Injection(key, "legacy", key, False, "brackets", None, "", LEGACY_NOTE)
                )
            continue
        ours = agent.is_ours(key)
        name = injection_name_of(key) if ours else key
        encoding = "json" if value.strip().startswith("{") else "gzip+base64"
        try:
            config: Optional[dict] = decode(value)
        except (ValueError, OSError, EOFError):
            found.append(Injection(name, "unreadable", key, ours, encoding, None, agent.name))
            continue
        owner = config.pop(OWNER_KEY, None) if ours else None
        found.append(
            Injection(name, _kind(config), key, ours, encoding, config, agent.name, owner=owner)
        )
    return found


def _kind(config: Mapping[str, Any]) -> str:
    listener = config
    if config.get("type") == "FilteringSpanListener":
        listener = (config.get("config") or {}).get("listener") or {}
    return {
        "ErrorInjectorSpanListener": "error",
        "LatencyInjectorSpanListener": "latency",
    }.get(listener.get("type"), "other")


# -------------------------------------------------------------------- helpers
def _positive_int(name: str, value: Any, minimum: int, maximum: Optional[int] = None) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    unit = " milliseconds" if name in ("delay", "variation", "sigma") else ""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInjection(f"{name} must be a whole number >= {minimum}{unit}, got {value!r}.")
    if maximum is not None and value > maximum:
        raise InvalidInjection(
            f"{name} must be at most {maximum}{unit} (Lambda's maximum timeout, 900 s), got "
            f"{value!r}: no invocation lives long enough to see more."
        )
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _snake(field: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", field).lower()
