"""functions/template.yaml, functions/seed.json and the packaging of the handlers."""

import ast
import json
import re
import sys

import cfnlint.api
from fn_support import FUNCTIONS_DIR, TEMPLATE_PATH

# The properties the sandbox deploys (and nothing else may be relied on).
FUNCTION_PROPERTIES = {
    "FunctionName", "CodeUri", "Handler", "Runtime", "Timeout", "MemorySize", "Environment",
    "Tags", "Policies", "ReservedConcurrentExecutions", "Description", "AutoPublishAlias",
}  # fmt: skip
TABLE_PROPERTIES = {"TableName", "PrimaryKey"}

EXPECTED = {
    # FunctionName: (Handler, Timeout)
    "user-get-naive": ("user_get_naive.handler", 5),
    "user-get": ("user_get.handler", 5),
    "user-get-catchpoint-naive": ("user_get_naive.handler", 5),
    "user-get-catchpoint": ("user_get.handler", 5),
    "upstream-lambda": ("upstream_lambda.handler", 4),
    "caller-naive": ("caller_naive.handler", 2),
    "caller": ("caller.handler", 6),
}
# Modules the Lambda Python runtime provides besides the standard library.
RUNTIME_PROVIDED = {"boto3", "botocore"}
# The import packages of the distribution `thundra`: 2.x ships `thundra`, 3.0.7+ ships
# `catchpoint` (common/agent.py imports whichever the package holds).
THUNDRA_PACKAGES = {"thundra", "catchpoint"}


def resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_is_a_sam_template(template):
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    for name in ("RedisUrl", "ThundraApiKey"):
        assert template["Parameters"][name]["Type"] == "String"
        assert template["Parameters"][name]["Default"]


def test_functions_names_handlers_timeouts(specs):
    assert {name: (s.handler, s.timeout) for name, s in specs.items()} == EXPECTED


def test_only_supported_properties(template):
    assert set(template["Globals"]["Function"]) <= FUNCTION_PROPERTIES
    for resource in resources(template, "AWS::Serverless::Function").values():
        assert set(resource["Properties"]) <= FUNCTION_PROPERTIES
    assert set(template["Resources"]) == set(
        resources(template, "AWS::Serverless::Function")
    ) | set(resources(template, "AWS::Serverless::SimpleTable"))
    for table in resources(template, "AWS::Serverless::SimpleTable").values():
        assert set(table["Properties"]) <= TABLE_PROPERTIES


def test_every_function_is_published_behind_the_alias_live(template):
    """Production traffic reaches the functions through an alias, as on real accounts."""
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"
    for resource in resources(template, "AWS::Serverless::Function").values():
        assert "AutoPublishAlias" not in resource["Properties"]


def test_globals_runtime_and_agent(template, specs):
    defaults = template["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.11"
    assert defaults["MemorySize"] == 256
    for spec in specs.values():
        assert spec.variables["THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE"] == "true"
        assert spec.variables["THUNDRA_APIKEY"] == {"Ref": "ThundraApiKey"}
    for name in ("user-get-naive", "user-get"):
        assert specs[name].variables["REDIS_URL"] == {"Ref": "RedisUrl"}


def test_every_function_is_tagged_and_has_its_policies(template):
    functions = resources(template, "AWS::Serverless::Function")
    for resource in functions.values():
        props = resource["Properties"]
        assert props["Tags"] == {"chaos": "allowed"}
        policies = {next(iter(p)): p[next(iter(p))] for p in props.get("Policies", [])}
        if props["FunctionName"].startswith("user-get"):
            assert policies == {"DynamoDBReadPolicy": {"TableName": {"Ref": "UsersTable"}}}
        elif props["FunctionName"].startswith("caller"):
            assert policies == {"LambdaInvokePolicy": {"FunctionName": {"Ref": "UpstreamLambda"}}}
            assert functions["UpstreamLambda"]["Properties"]["FunctionName"] == "upstream-lambda"
        else:
            assert policies == {}


def test_users_table(template):
    [table] = resources(template, "AWS::Serverless::SimpleTable").values()
    assert table["Properties"] == {
        "TableName": "users",
        "PrimaryKey": {"Name": "id", "Type": "String"},
    }


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_handlers_are_wrapped_by_the_agent_and_packaged_with_their_code(specs):
    for spec in specs.values():
        module, function = spec.handler.split(".")
        source = spec.code_dir / f"{module}.py"
        tree = ast.parse(source.read_text(encoding="utf-8"))
        [handler] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
        assert [ast.unparse(d) for d in handler.decorator_list] == ["agent"], spec.name

    # Everything a CodeUri folder imports is in the folder (zipped with each function),
    # in its requirements.txt (installed by `sam build`), or in the runtime.
    for code_dir in {spec.code_dir for spec in specs.values()}:
        local = {p.stem for p in code_dir.glob("*.py")} | {
            p.parent.name for p in code_dir.glob("*/__init__.py")
        }
        requirements = {
            re.split(r"[<>=!~ ;\[]", line.strip(), maxsplit=1)[0].lower()
            for line in (code_dir / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert requirements == {"thundra", "redis"}
        allowed = set(sys.stdlib_module_names) | RUNTIME_PROVIDED | local | requirements
        allowed |= THUNDRA_PACKAGES
        for path in code_dir.rglob("*.py"):
            assert set(_imports(path)) <= allowed, path


def test_seed(template, seed):
    assert template["Metadata"]["chaosthundra"]["seed"] == "seed.json"
    users = {user["id"]: user for user in seed["dynamodb"]["users"]}
    assert len(users) == len(seed["dynamodb"]["users"]) >= 3
    assert set(seed["dynamodb"]) == {"users"}
    cached = {}
    for key, value in seed["redis"].items():
        assert key.startswith("user:")
        cached[key.removeprefix("user:")] = json.loads(value)
    # The cache holds copies of some users, not all: with Redis failing, only the
    # fallback to DynamoDB finds the others.
    assert cached == {uid: users[uid] for uid in cached}
    assert "1" in cached  # the experiments' user
    assert 0 < len(cached) < len(users)


def test_cfn_lint_finds_no_errors_or_warnings():
    matches = cfnlint.api.lint_all(TEMPLATE_PATH.read_text(encoding="utf-8"))
    problems = [str(m) for m in matches if m.rule.id[0] in "EW"]
    assert problems == []
    assert (FUNCTIONS_DIR / "seed.json").is_file()
