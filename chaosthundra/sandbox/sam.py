"""Read an AWS SAM template and the files that come with it (pure: no AWS calls).

- the template file, YAML or JSON, with CloudFormation's short forms (``!Ref``...)
  and dates kept as text: :func:`load_template`;
- ``Parameters`` (a value given, else ``Default``) and the pseudo parameters
  ``AWS::Region``, ``AWS::AccountId``, ``AWS::StackName``, ``AWS::Partition``,
  ``AWS::URLSuffix``, ``AWS::NoValue``: :func:`template_values`;
- ``Ref`` (a parameter, a pseudo parameter, a table's name, a function's name),
  ``Fn::Sub``, ``Fn::GetAtt`` (``Arn`` of a table or function), ``Fn::Join``,
  ``Fn::Select``, in long or short form: :class:`Resolver`;
- a seed file (``{"dynamodb": ..., "redis": ...}``): :func:`load_seed`.

What the resources become is :mod:`.deploy_plan`'s. Anything else (an intrinsic
function, a parameter key) is a :class:`TemplateError` naming it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .errors import TemplateError

__all__ = [
    "ACCOUNT_ID",
    "FUNCTION",
    "SIMPLE_TABLE",
    "TABLE",
    "Resolver",
    "load_seed",
    "load_template",
    "template_values",
]

ACCOUNT_ID = "123456789012"

FUNCTION = "AWS::Serverless::Function"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
TABLE = "AWS::DynamoDB::Table"

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
_NO_VALUE = object()


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


class Resolver:
    """The intrinsic functions of a template, resolved against parameter values
    (``values``) and the resources' physical names (``resources``)."""

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


# --- parameters --------------------------------------------------------------------


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


def template_values(
    path: Path, template: dict[str, Any], given: dict[str, Any], region: str, stack_name: str
) -> dict[str, Any]:
    """The values ``Ref`` and ``Fn::Sub`` see: the template's parameters (``given``,
    else their ``Default``) and the pseudo parameters."""
    values = _parameters(path, template, given)
    values.update(
        {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )
    return values


# --- seed data ---------------------------------------------------------------------


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
