"""Read an AWS SAM template into a deployment plan (pure: no AWS calls).

Supported:

- resources ``AWS::Serverless::Function`` (CodeUri as a directory or a .zip,
  Handler, Runtime (any: one the sandbox cannot run is deployed, never run), Timeout,
  MemorySize, Environment.Variables,
  ReservedConcurrentExecutions, Tags, FunctionName, Description, AutoPublishAlias:
  a version is published on each deploy that changes the function, and the alias
  named by the property points at it),
  ``AWS::Serverless::SimpleTable`` and ``AWS::DynamoDB::Table``;
- ``Globals.Function``, ``Parameters`` (a value given to :func:`load_plan`, else
  ``Default``), the pseudo parameters ``AWS::Region``, ``AWS::AccountId``,
  ``AWS::StackName``, ``AWS::Partition``, ``AWS::URLSuffix``, ``AWS::NoValue``;
- ``Ref`` (a parameter, a pseudo parameter, a table's name, a function's name),
  ``Fn::Sub``, ``Fn::GetAtt`` (``Arn`` of a table or function), ``Fn::Join``,
  ``Fn::Select``, in long or short (``!Ref``) form;
- seed data: ``Metadata.chaosthundra.seed`` (a path relative to the template), else
  ``seed.json`` next to the template.

Anything else (a resource type, a property, an intrinsic function, a top-level
section) is a :class:`TemplateError` naming it. Function properties that only matter
to IAM or the hardware (``Policies``, ``Architectures``, ``Tracing``) are accepted and
have no effect: the sandbox does not enforce permissions. Without ``FunctionName`` or
``TableName`` the logical id is the name (CloudFormation would generate one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import TemplateError

__all__ = ["FunctionPlan", "Plan", "TablePlan", "load_plan", "load_seed", "load_template"]

ACCOUNT_ID = "123456789012"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

FUNCTION = "AWS::Serverless::Function"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
TABLE = "AWS::DynamoDB::Table"

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
PARAMETER_KEYS = {
    "Type",
    "Default",
    "Description",
    "NoEcho",
    "AllowedValues",
    "AllowedPattern",
    "ConstraintDescription",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
}
_KEY_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
_NO_VALUE = object()


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


# --- YAML ---------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short forms and keeps dates as text."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a template file (YAML or JSON)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a template (no 'Resources' mapping)")
    return data


# --- intrinsic functions ------------------------------------------------------------


class _Resolver:
    def __init__(
        self,
        path: Path,
        values: dict[str, Any],
        resources: dict[str, tuple[str, str]],
        region: str,
    ) -> None:
        self.path = path
        self.values = values  # parameters and pseudo parameters
        self.resources = resources  # logical id -> (type, physical name)
        self.region = region

    def fail(self, where: str, message: str) -> TemplateError:
        return TemplateError(f"{self.path}: {where}: {message}")

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(arg, where)
                if key.startswith("Fn::") or key == "Condition":
                    return self.function(key, arg, where)
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item, f"{where}.{key}")
                if resolved is not _NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            items = (self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value))
            return [item for item in items if item is not _NO_VALUE]
        return value

    def ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise self.fail(where, f"Ref needs a name, got {name!r}")
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            return self.resources[name][1]
        raise self.fail(where, f"Ref to unknown parameter or resource '{name}'")

    def get_att(self, logical_id: str, attribute: str, where: str) -> str:
        if logical_id not in self.resources:
            raise self.fail(where, f"Fn::GetAtt of unknown resource '{logical_id}'")
        kind, name = self.resources[logical_id]
        if attribute == "Arn" and kind in (TABLE, SIMPLE_TABLE):
            return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
        if attribute == "Arn" and kind == FUNCTION:
            return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
        raise self.fail(where, f"Fn::GetAtt {logical_id}.{attribute} is not supported")

    def function(self, key: str, arg: Any, where: str) -> Any:
        if key == "Fn::Sub":
            return self.sub(arg, where)
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            if not (isinstance(arg, list) and len(arg) == 2):
                raise self.fail(where, f"Fn::GetAtt needs [resource, attribute], got {arg!r}")
            return self.get_att(str(arg[0]), str(self.resolve(arg[1], where)), where)
        if key == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise self.fail(where, "Fn::Join needs [delimiter, [values]]")
            items = self.resolve(arg[1], where)
            if not isinstance(items, list):
                raise self.fail(where, "Fn::Join needs a list of values")
            return str(arg[0]).join(str(item) for item in items)
        if key == "Fn::Select":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise self.fail(where, "Fn::Select needs [index, [values]]")
            index, items = self.resolve(arg[0], where), self.resolve(arg[1], where)
            try:
                return items[int(index)]
            except (IndexError, TypeError, ValueError):
                raise self.fail(where, f"Fn::Select index {index!r} out of range") from None
        raise self.fail(where, f"intrinsic function '{key}' is not supported by the sandbox")

    def sub(self, arg: Any, where: str) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise self.fail(where, "Fn::Sub needs a string or [string, {variables}]")
            arg, raw = arg
            variables = {k: self.resolve(v, f"{where}.{k}") for k, v in raw.items()}
        if not isinstance(arg, str):
            raise self.fail(where, f"Fn::Sub needs a string, got {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute, where)
            value = self.ref(name, where)
            return "" if value is _NO_VALUE else str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, arg)


# --- the plan -----------------------------------------------------------------------


def _parameters(path: Path, template: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        raise TemplateError(f"{path}: 'Parameters' must be a mapping")
    for name, decl in declared.items():
        decl = decl or {}
        unknown = set(decl) - PARAMETER_KEYS
        if unknown:
            raise TemplateError(
                f"{path}: parameter '{name}': unsupported key(s) {', '.join(sorted(unknown))}"
            )
        if name in given:
            value = given[name]
        elif "Default" in decl:
            value = decl["Default"]
        else:
            raise TemplateError(f"{path}: parameter '{name}' has no Default and no value given")
        kind = str(decl.get("Type", "String"))
        if kind == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        elif not isinstance(value, list):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        allowed = decl.get("AllowedValues")
        if allowed and value not in [str(a) for a in allowed]:
            raise TemplateError(f"{path}: parameter '{name}': {value!r} is not one of {allowed}")
        values[name] = value
    return values


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

    values = _parameters(path, template, dict(parameters or {}))
    values.update(
        {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )

    globals_ = template.get("Globals") or {}
    _check_keys(path, "Globals", globals_, {"Function"}, "section")
    function_globals = globals_.get("Function") or {}
    _check_keys(
        path, "Globals.Function", function_globals, FUNCTION_PROPERTIES | FUNCTION_IGNORED,
        "property",
    )  # fmt: skip

    resources: dict[str, Any] = template["Resources"]
    pre = _Resolver(path, values, {}, region)
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

    resolver = _Resolver(path, values, names, region)
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


def load_seed(path: Path) -> dict[str, Any]:
    """Read and check a seed file: ``{"dynamodb": {table: [items]}, "redis": {k: v}}``."""
    try:
        data = json.loads(path.read_text("utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise TemplateError(f"cannot read seed file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TemplateError(f"seed file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"seed file {path}: expected an object")
    unknown = set(data) - {"dynamodb", "redis"}
    if unknown:
        raise TemplateError(
            f"seed file {path}: unsupported section(s) {', '.join(sorted(unknown))} "
            "(supported: dynamodb, redis)"
        )
    tables = data.get("dynamodb") or {}
    if not isinstance(tables, dict) or not all(
        isinstance(items, list) and all(isinstance(i, dict) for i in items)
        for items in tables.values()
    ):
        raise TemplateError(f"seed file {path}: 'dynamodb' must map table names to lists of items")
    keys = data.get("redis") or {}
    if not isinstance(keys, dict) or any(isinstance(v, (dict, list)) for v in keys.values()):
        raise TemplateError(f"seed file {path}: 'redis' must map keys to string values")
    return {"dynamodb": tables, "redis": keys}
