"""The deployment plan an AWS SAM template declares (pure: no AWS calls): the
functions and tables :mod:`.deploy` creates, and the seed data it loads.

Supported:

- resources ``AWS::Serverless::Function`` (CodeUri as a directory or a .zip,
  Handler, Runtime (any: one the sandbox cannot run is deployed, never run), Timeout,
  MemorySize, Environment.Variables,
  ReservedConcurrentExecutions, Tags, FunctionName, Description, AutoPublishAlias:
  a version is published on each deploy that changes the function, and the alias
  named by the property points at it),
  ``AWS::Serverless::SimpleTable`` and ``AWS::DynamoDB::Table``;
- ``Globals.Function``; the parameters, pseudo parameters and intrinsic functions
  that :mod:`.sam` reads;
- seed data: ``Metadata.chaosthundra.seed`` (a path relative to the template), else
  ``seed.json`` next to the template.

Anything else (a resource type, a property, a top-level section) is a
:class:`TemplateError` naming it. Function properties that only matter
to IAM or the hardware (``Policies``, ``Architectures``, ``Tracing``) are accepted and
have no effect: the sandbox does not enforce permissions. Without ``FunctionName`` or
``TableName`` the logical id is the name (CloudFormation would generate one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import TemplateError
from .sam import FUNCTION, SIMPLE_TABLE, TABLE, Resolver, load_template, template_values

__all__ = ["FunctionPlan", "Plan", "TablePlan", "load_plan"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

FUNCTION_PROPERTIES = {
    "FunctionName",
    "CodeUri",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "ReservedConcurrentExecutions",
    "Tags",
    "Description",
    "AutoPublishAlias",
}
FUNCTION_IGNORED = {"Policies", "Architectures", "Tracing"}
SIMPLE_TABLE_PROPERTIES = {"TableName", "PrimaryKey", "ProvisionedThroughput", "Tags"}
SIMPLE_TABLE_IGNORED = {"SSESpecification"}
TABLE_PROPERTIES = {
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "Tags",
    "TimeToLiveSpecification",
    "TableClass",
}
TABLE_IGNORED = {
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "DeletionProtectionEnabled",
}
TOP_LEVEL = {
    "AWSTemplateFormatVersion",
    "Transform",
    "Description",
    "Metadata",
    "Parameters",
    "Globals",
    "Resources",
    "Outputs",
}
RESOURCE_KEYS = {
    "Type",
    "Properties",
    "Metadata",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
}
_KEY_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


@dataclass
class FunctionPlan:
    logical_id: str
    name: str
    code: Path
    handler: str
    runtime: str
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: Optional[int] = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    auto_publish_alias: Optional[str] = None


@dataclass
class TablePlan:
    logical_id: str
    name: str
    create_args: dict[str, Any]
    ttl: Optional[dict[str, Any]] = None


@dataclass
class Plan:
    path: Path
    tables: list[TablePlan]
    functions: list[FunctionPlan]
    seed: Optional[Path]


# --- the plan -----------------------------------------------------------------------


def _check_keys(path: Path, where: str, found: Any, supported: set[str], what: str) -> None:
    if not isinstance(found, dict):
        raise TemplateError(f"{path}: {where}: {what} must be a mapping")
    for key in found:
        if key not in supported:
            raise TemplateError(
                f"{path}: {where}: {what} '{key}' is not supported by the sandbox "
                f"(supported: {', '.join(sorted(supported))})"
            )


def _merge(base: Any, override: Any) -> Any:
    """SAM Globals semantics: maps merge, lists concatenate, scalars are replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


def _str_map(path: Path, where: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"{path}: {where} must be a mapping of strings")
    out = {}
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            raise TemplateError(f"{path}: {where}.{key} must be a string, got {item!r}")
        out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _int(path: Path, where: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{path}: {where} must be an integer, got {value!r}") from None


def load_plan(
    path: Path,
    parameters: Optional[dict[str, Any]] = None,
    region: str = "us-east-1",
    stack_name: str = "chaosthundra-sandbox",
) -> Plan:
    """Read and resolve ``path`` into a :class:`Plan`."""
    path = Path(path)
    template = load_template(path)
    base = path.parent

    for key in template:
        if key not in TOP_LEVEL:
            raise TemplateError(
                f"{path}: top-level section '{key}' is not supported by the sandbox"
            )
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform] if transform else []
    for item in transforms:
        if item != SAM_TRANSFORM:
            raise TemplateError(f"{path}: Transform '{item}' is not supported by the sandbox")

    values = template_values(path, template, dict(parameters or {}), region, stack_name)

    globals_ = template.get("Globals") or {}
    _check_keys(path, "Globals", globals_, {"Function"}, "section")
    function_globals = globals_.get("Function") or {}
    _check_keys(
        path, "Globals.Function", function_globals, FUNCTION_PROPERTIES | FUNCTION_IGNORED,
        "property",
    )  # fmt: skip

    resources: dict[str, Any] = template["Resources"]
    pre = Resolver(path, values, {}, region)
    names: dict[str, tuple[str, str]] = {}
    supported = {FUNCTION, SIMPLE_TABLE, TABLE}
    for logical_id, resource in resources.items():
        where = f"resource '{logical_id}'"
        if not isinstance(resource, dict):
            raise TemplateError(f"{path}: {where} must be a mapping")
        kind = resource.get("Type")
        if kind not in supported:
            raise TemplateError(
                f"{path}: {where}: type '{kind}' is not supported by the sandbox "
                f"(supported: {', '.join(sorted(supported))})"
            )
        _check_keys(path, where, resource, RESOURCE_KEYS, "attribute")
        props = resource.get("Properties") or {}
        name_key = "FunctionName" if kind == FUNCTION else "TableName"
        name = pre.resolve(props.get(name_key, logical_id), f"{where}.{name_key}")
        names[logical_id] = (kind, str(name))

    resolver = Resolver(path, values, names, region)
    tables: list[TablePlan] = []
    functions: list[FunctionPlan] = []
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        where = f"resource '{logical_id}' ({kind})"
        props = resource.get("Properties") or {}
        if kind == FUNCTION:
            _check_keys(path, where, props, FUNCTION_PROPERTIES | FUNCTION_IGNORED, "property")
            merged = _merge(function_globals, props)
            used = {k: v for k, v in merged.items() if k not in FUNCTION_IGNORED}
            resolved = resolver.resolve(used, where)
            functions.append(_function(path, base, where, logical_id, names, resolved))
        elif kind == SIMPLE_TABLE:
            _check_keys(
                path, where, props, SIMPLE_TABLE_PROPERTIES | SIMPLE_TABLE_IGNORED, "property"
            )
            used = {k: v for k, v in props.items() if k not in SIMPLE_TABLE_IGNORED}
            resolved = resolver.resolve(used, where)
            tables.append(_simple_table(path, where, logical_id, names, resolved))
        else:
            _check_keys(path, where, props, TABLE_PROPERTIES | TABLE_IGNORED, "property")
            used = {k: v for k, v in props.items() if k not in TABLE_IGNORED}
            resolved = resolver.resolve(used, where)
            tables.append(_table(path, where, logical_id, names, resolved))

    return Plan(path=path, tables=tables, functions=functions, seed=_seed_path(path, template))


def _function(
    path: Path,
    base: Path,
    where: str,
    logical_id: str,
    names: dict[str, tuple[str, str]],
    props: dict[str, Any],
) -> FunctionPlan:
    for required in ("CodeUri", "Handler", "Runtime"):
        if required not in props:
            raise TemplateError(f"{path}: {where}: property '{required}' is required")
    code_uri = props["CodeUri"]
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise TemplateError(
            f"{path}: {where}: property 'CodeUri' must be a local directory or .zip file "
            f"(got {code_uri!r})"
        )
    code = (base / code_uri).resolve()
    if not (code.is_dir() or (code.is_file() and code.suffix == ".zip")):
        raise TemplateError(f"{path}: {where}: CodeUri {code_uri!r}: no such directory or .zip")
    runtime = str(props["Runtime"])
    environment = props.get("Environment") or {}
    _check_keys(path, f"{where}.Environment", environment, {"Variables"}, "key")
    reserved = props.get("ReservedConcurrentExecutions")
    return FunctionPlan(
        logical_id=logical_id,
        name=names[logical_id][1],
        code=code,
        handler=str(props["Handler"]),
        runtime=runtime,
        timeout=_int(path, f"{where}.Timeout", props.get("Timeout", 3)),
        memory_size=_int(path, f"{where}.MemorySize", props.get("MemorySize", 128)),
        environment=_str_map(path, f"{where}.Environment.Variables", environment.get("Variables")),
        reserved_concurrency=(
            None
            if reserved is None
            else _int(path, f"{where}.ReservedConcurrentExecutions", reserved)
        ),
        tags=_str_map(path, f"{where}.Tags", props.get("Tags")),
        description=str(props.get("Description", "")),
        auto_publish_alias=_alias_name(path, where, props.get("AutoPublishAlias")),
    )


_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")


def _alias_name(path: Path, where: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not _ALIAS_NAME.fullmatch(value) or len(value) > 128:
        raise TemplateError(
            f"{path}: {where}.AutoPublishAlias must be an alias name (letters, digits, '-' "
            f"and '_', not only digits); got {value!r}"
        )
    return value


def _simple_table(
    path: Path,
    where: str,
    logical_id: str,
    names: dict[str, tuple[str, str]],
    props: dict[str, Any],
) -> TablePlan:
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    _check_keys(path, f"{where}.PrimaryKey", key, {"Name", "Type"}, "key")
    key_type = _KEY_TYPES.get(str(key.get("Type", "String")))
    if key_type is None or "Name" not in key:
        raise TemplateError(
            f"{path}: {where}.PrimaryKey needs Name and a Type of String, Number or Binary"
        )
    args: dict[str, Any] = {
        "TableName": names[logical_id][1],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    }
    if props.get("ProvisionedThroughput"):
        args["BillingMode"] = "PROVISIONED"
        args["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
    else:
        args["BillingMode"] = "PAY_PER_REQUEST"
    tags = _str_map(path, f"{where}.Tags", props.get("Tags"))
    if tags:
        args["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return TablePlan(logical_id=logical_id, name=args["TableName"], create_args=args)


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in value.items()}


def _table(
    path: Path,
    where: str,
    logical_id: str,
    names: dict[str, tuple[str, str]],
    props: dict[str, Any],
) -> TablePlan:
    for required in ("AttributeDefinitions", "KeySchema"):
        if required not in props:
            raise TemplateError(f"{path}: {where}: property '{required}' is required")
    args = {k: v for k, v in props.items() if k not in ("TimeToLiveSpecification", "Tags")}
    args["TableName"] = names[logical_id][1]
    if "ProvisionedThroughput" in args:
        args["ProvisionedThroughput"] = _throughput(args["ProvisionedThroughput"])
        args.setdefault("BillingMode", "PROVISIONED")
    else:
        args.setdefault("BillingMode", "PAY_PER_REQUEST")
    stream = args.pop("StreamSpecification", None)
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, **stream}
    tags = props.get("Tags")
    if tags:
        if not isinstance(tags, list):
            raise TemplateError(f"{path}: {where}.Tags must be a list of Key/Value")
        args["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags]
    return TablePlan(
        logical_id=logical_id,
        name=args["TableName"],
        create_args=args,
        ttl=props.get("TimeToLiveSpecification"),
    )


def _seed_path(path: Path, template: dict[str, Any]) -> Optional[Path]:
    metadata = template.get("Metadata") or {}
    ours = metadata.get("chaosthundra") if isinstance(metadata, dict) else None
    if isinstance(ours, dict) and ours.get("seed"):
        seed = (path.parent / str(ours["seed"])).resolve()
        if not seed.is_file():
            raise TemplateError(f"{path}: Metadata.chaosthundra.seed: no such file {seed}")
        return seed
    conventional = path.parent / "seed.json"
    return conventional if conventional.is_file() else None
