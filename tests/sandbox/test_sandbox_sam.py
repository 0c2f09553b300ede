"""Reading SAM templates: what is supported, and clear errors for what is not."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from sbx_helpers import make_client

from chaosthundra.sandbox import Sandbox, TemplateError
from chaosthundra.sandbox.deploy_plan import load_plan


def _write(tmp_path: Path, text: str, code: bool = True) -> Path:
    if code:
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return path


FUNCTION = textwrap.dedent(
    """\
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: python3.11
    """
)


def test_globals_parameters_and_intrinsics(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev}
          RedisUrl: {Type: String}
        Globals:
          Function:
            Runtime: python3.11
            Timeout: 7
            Environment:
              Variables: {A: global, B: global}
            Tags: {team: chaos}
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-${Stage}-table"
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
              StreamSpecification: {StreamViewType: NEW_IMAGE}
          Simple:
            Type: AWS::Serverless::SimpleTable
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src
              Handler: app.handler
              MemorySize: 512
              ReservedConcurrentExecutions: 2
              Environment:
                Variables:
                  B: own
                  TABLE: !Ref Table
                  TABLE_ARN: !GetAtt Table.Arn
                  SIMPLE: {Ref: Simple}
                  REDIS: !Ref RedisUrl
                  JOINED: !Join ["-", [!Ref "AWS::Region", !Ref "AWS::AccountId"]]
                  SUB: !Sub ["${x}/${Fn.Arn}/${!Literal}", {x: !Ref Stage}]
                  NUMBER: 3
                  FLAG: true
              Tags: {own: tag}
              Policies: [AWSLambdaBasicExecutionRole]
        """,
    )
    plan = load_plan(path, {"RedisUrl": "redis://127.0.0.1:1/0"}, region="eu-west-1")
    (fn,) = plan.functions
    assert fn.name == "Fn"
    assert fn.code == (tmp_path / "src").resolve()
    assert (fn.runtime, fn.timeout, fn.memory_size, fn.reserved_concurrency) == (
        "python3.11", 7, 512, 2,
    )  # fmt: skip
    assert fn.environment == {
        "A": "global",
        "B": "own",
        "TABLE": "chaosthundra-sandbox-dev-table",
        "TABLE_ARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/chaosthundra-sandbox-dev-table",
        "SIMPLE": "Simple",
        "REDIS": "redis://127.0.0.1:1/0",
        "JOINED": "eu-west-1-123456789012",
        "SUB": "dev/arn:aws:lambda:eu-west-1:123456789012:function:Fn/${Literal}",
        "NUMBER": "3",
        "FLAG": "true",
    }
    assert fn.tags == {"team": "chaos", "own": "tag"}
    table, simple = plan.tables
    assert table.create_args["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_IMAGE",
    }
    assert table.create_args["BillingMode"] == "PAY_PER_REQUEST"
    assert simple.create_args["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert plan.seed is None


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n",
            "resource 'Queue': type 'AWS::SQS::Queue' is not supported",
        ),
        (FUNCTION + "      Events: {}\n", "resource 'Fn' (AWS::Serverless::Function): "
         "property 'Events' is not supported"),
        (FUNCTION + "      Layers: [x]\n", "property 'Layers' is not supported"),
        (FUNCTION.replace("src/", "missing/"), "CodeUri 'missing/': no such directory"),
        (FUNCTION + "      Environment: {Variables: {A: !Ref Nope}}\n",
         "Ref to unknown parameter or resource 'Nope'"),
        (FUNCTION + "      Environment: {Variables: {A: !FindInMap [a, b, c]}}\n",
         "intrinsic function 'Fn::FindInMap' is not supported"),
        (FUNCTION + "      Environment: {Variables: {A: !GetAtt Fn.Nope}}\n",
         "Fn::GetAtt Fn.Nope is not supported"),
        ("Conditions: {}\n" + FUNCTION, "top-level section 'Conditions' is not supported"),
        ("Globals:\n  Api: {}\n" + FUNCTION, "Globals: section 'Api' is not supported"),
        ("Parameters:\n  P: {Type: String}\n" + FUNCTION, "parameter 'P' has no Default"),
        ("Transform: AWS::Include\n" + FUNCTION, "Transform 'AWS::Include' is not supported"),
        ("Resources: [1]\n", "not a template"),
    ],
)  # fmt: skip
def test_unsupported_things_are_named(tmp_path: Path, snippet: str, expected: str) -> None:
    path = _write(tmp_path, snippet)
    with pytest.raises(TemplateError) as caught:
        load_plan(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_seed_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, FUNCTION)
    (tmp_path / "seed.json").write_text('{"sqs": {}}')
    plan = load_plan(path)
    assert plan.seed == tmp_path / "seed.json"
    from chaosthundra.sandbox.sam import load_seed

    with pytest.raises(TemplateError, match="unsupported section"):
        load_seed(plan.seed)


def test_deploy_rejects_unsupported_resource_and_leaves_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.11,
                         FunctionName: sbx-never}
          Api:
            Type: AWS::Serverless::Api
        """,
    )
    with pytest.raises(TemplateError, match="resource 'Api': type 'AWS::Serverless::Api'"):
        sandbox.deploy(path)
    names = [
        f["FunctionName"] for f in make_client(sandbox, "lambda").list_functions()["Functions"]
    ]
    assert "sbx-never" not in names


def test_seed_into_unknown_table_is_a_clear_error(sandbox: Sandbox, tmp_path: Path) -> None:
    path = _write(tmp_path, "Resources: {}\n", code=False)
    (tmp_path / "seed.json").write_text('{"dynamodb": {"sbx-no-such-table": [{"id": "1"}]}}')
    with pytest.raises(TemplateError, match="cannot write to table 'sbx-no-such-table'"):
        sandbox.deploy(path)


def test_seed_loaded_into_dynamodb_and_redis(sandbox: Sandbox, deployed: Any) -> None:
    import redis

    dynamodb = make_client(sandbox, "dynamodb")
    item = dynamodb.get_item(TableName="sbx-items", Key={"id": {"S": "a"}})["Item"]
    assert item == {
        "id": {"S": "a"},
        "name": {"S": "Alpha"},
        "score": {"N": "1.5"},
        "tags": {"L": [{"S": "x"}, {"S": "y"}]},
    }
    assert redis.Redis.from_url(sandbox.redis_url).get("sbx:greeting") == b"hello from the seed"


def test_redeploy_updates_functions_in_place(sandbox: Sandbox, tmp_path: Path) -> None:
    text = """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: sbx-redeployed
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.11
              Environment: {Variables: {VERSION: "%s"}}
        """
    sandbox.deploy(_write(tmp_path, text % "one"))
    sandbox.deploy(_write(tmp_path, text % "two"))
    client = make_client(sandbox, "lambda")
    config = client.get_function_configuration(FunctionName="sbx-redeployed")
    assert config["Environment"]["Variables"] == {"VERSION": "two"}


def test_a_package_shared_by_functions_is_uploaded_once_and_not_again_unchanged(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    import base64
    import uuid

    from chaosthundra.sandbox.deploy import CODE_BUCKET

    suffix = uuid.uuid4().hex[:8]
    resources = "".join(
        f"  Fn{n}:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        f"      FunctionName: sbx-shared-{n}-{suffix}\n"
        "      CodeUri: src/\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.11\n"
        for n in (1, 2, 3)
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        f"MARK = {suffix!r}\n\ndef handler(e, c):\n    return MARK\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n" + resources)
    s3 = make_client(sandbox, "s3")
    lam = make_client(sandbox, "lambda")
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=CODE_BUCKET).get("Contents", [])}
    sandbox.deploy(path)
    after = {o["Key"] for o in s3.list_objects_v2(Bucket=CODE_BUCKET).get("Contents", [])}
    assert len(after - before) == 1  # three functions, one package
    (key,) = after - before
    shas = {
        lam.get_function_configuration(FunctionName=f"sbx-shared-{n}-{suffix}")["CodeSha256"]
        for n in (1, 2, 3)
    }
    assert shas == {base64.b64encode(bytes.fromhex(key.removesuffix(".zip"))).decode()}
    sandbox.deploy(path)  # unchanged: the same code, nothing uploaded
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=CODE_BUCKET)["Contents"]} == after
    out = lam.invoke(FunctionName=f"sbx-shared-1-{suffix}")["Payload"].read()
    assert out.decode() == f'"{suffix}"'
    for n in (1, 2, 3):
        lam.delete_function(FunctionName=f"sbx-shared-{n}-{suffix}")
