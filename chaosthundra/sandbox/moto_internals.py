"""The inventory of moto's internals: every moto name the sandbox relies on beyond
moto's HTTP API, with the reason for each.

:mod:`.moto_state` is the one sandbox module that uses them;
``tests/sandbox/test_moto_internals.py`` checks each against the installed moto and
names the one a new moto lacks. Run it first when moto moves past the pin in
pyproject.toml. Data only: importing this module does not import moto.
"""

from __future__ import annotations

__all__ = ["MOTO_INTERNALS"]

# Every moto name the sandbox relies on beyond moto's HTTP API, and why.
# "module:Name.attr" is imported; "module:Class().attr" is an attribute of a live
# instance (moto sets it in ``__init__``, so only an instance shows it). "note N" is
# the report in docs/moto-notes.md the name works around. The brackets that end each
# reason name where it is used: the functions of moto_state.py that use it, or
# "__all__" for a name moto_state hands on as it is (to server.py).
# test_moto_internals checks that each function named there does use it.
MOTO_INTERNALS: dict[str, str] = {
    # Lambda: reading configuration in process, microseconds per invoke.
    "moto.awslambda.models:lambda_backends": (
        "the Lambda backend per account and region [published_count, number_published, "
        "lambda_object, alias_routing, aliases_routing, code_by_sha256]"
    ),
    "moto.awslambda.models:LambdaBackend.get_function": (
        "a function, version or alias's version by name or ARN, as moto resolves them "
        "[lambda_object]"
    ),
    "moto.awslambda.models:LambdaBackend.get_alias": (
        "an alias's routing (invoke, deletes) [alias_routing]"
    ),
    "moto.awslambda.models:LambdaBackend.list_aliases": (
        "every alias of a function: a version they route to cannot be deleted (note 9) "
        "[aliases_routing]"
    ),
    "moto.awslambda.models:LambdaBackend.list_versions_by_function": (
        "the package whose CodeSha256 a Code.Location names [code_by_sha256]"
    ),
    "moto.awslambda.exceptions:LambdaClientError": (
        "moto's Lambda errors, answered as ApiError "
        "[_api_error, lambda_object, alias_routing, aliases_routing, code_by_sha256]"
    ),
    "moto.awslambda.exceptions:LambdaClientError().code": (
        "the HTTP status of a moto error [_api_error]"
    ),
    "moto.awslambda.exceptions:LambdaClientError().error_type": "its AWS error code [_api_error]",
    "moto.awslambda.exceptions:LambdaClientError().message": "its message [_api_error]",
    # Lambda: renumbering what PublishVersion numbered again (note 1).
    "moto.awslambda.models:LambdaBackend()._lambdas": (
        "moto's function storage [published_count, number_published]"
    ),
    "moto.awslambda.models:LambdaStorage()._functions": (
        "{name: {'latest', 'versions'}}: count the versions, find the one just published "
        "[published_count, number_published]"
    ),
    "moto.awslambda.models:LambdaStorage()._arns": (
        "ARN -> version: repaired after a renumbering (moto's publish overwrote an entry) "
        "[number_published]"
    ),
    "moto.awslambda.models:LambdaFunction.set_version": (
        "gives a version its Lambda number [number_published]"
    ),
    # Lambda: a function's settings (FunctionSpec: what an environment is built from).
    "moto.awslambda.models:LambdaFunction().function_name": (
        "the function's name [name_of, function_record, find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().function_arn": (
        "its ARN, qualified for a version [arn_of, _unqualified_arn, number_published]"
    ),
    "moto.awslambda.models:LambdaFunction().version": (
        "$LATEST or the version number [find_function, _unqualified_arn, number_published]"
    ),
    "moto.awslambda.models:LambdaFunction().handler": (
        "the handler an environment imports [find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().run_time": (
        "the Runtime (which interpreter) [find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().timeout": (
        "the Timeout the host enforces [find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().memory_size": (
        "MemorySize, in REPORT lines [find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().environment_vars": (
        "the variables an environment starts with; detached on publish (note 2) "
        "[find_function, detach]"
    ),
    "moto.awslambda.models:LambdaFunction().code_sha_256": (
        "keys the unpacked code cache [find_function, code_by_sha256]"
    ),
    "moto.awslambda.models:LambdaFunction().code_bytes": "the zip a worker runs [code_bytes]",
    "moto.awslambda.models:LambdaFunction().reserved_concurrency": (
        "the 429 at the limit [find_function]"
    ),
    "moto.awslambda.models:LambdaFunction().code": "detached on publish (note 2) [detach]",
    "moto.awslambda.models:LambdaFunction().layers": "detached on publish (note 2) [detach]",
    "moto.awslambda.models:LambdaFunction().tags": "detached on publish (note 2) [detach]",
    "moto.awslambda.models:LambdaFunction().last_modified": (
        "set on every update, as Lambda does (note 4) [touch]"
    ),
    "moto.awslambda.models:LambdaAlias().name": "an alias's name [aliases_routing]",
    "moto.awslambda.models:LambdaAlias().function_version": "the version it points at [_routing]",
    "moto.awslambda.models:LambdaAlias().routing_config": "AdditionalVersionWeights [_routing]",
    # Accounts, as moto puts a request in one.
    "moto.core:DEFAULT_ACCOUNT_ID": "the account of an unsigned request [account_for_request]",
    "moto.iam.models:get_account_id_from": (
        "the account an access key belongs to [account_for_request]"
    ),
    # Time stamps as moto writes them (note 4).
    "moto.core.utils:iso_8601_datetime_with_nanoseconds": "LastModified set on updates [touch]",
    # Service models loaded once per process (note 11). Both are replaced while a
    # sandbox runs, and moto's own put back when the last one stops (share_service_models).
    "moto.core.utils:_load_service_model": (
        "replaced by the sandbox session's loader [share_service_models]"
    ),
    "moto.core.base_backend:AccountSpecificBackend.get_session": (
        "replaced by the sandbox's session (moto lists a service's regions with it) "
        "[share_service_models]"
    ),
    # CloudWatch Logs: the invoke path writes function logs in process.
    "moto.logs.models:logs_backends": "the Logs backend per account and region [put_log_lines]",
    "moto.logs.models:LogsBackend.create_log_group": (
        "a function's group on its first log [put_log_lines]"
    ),
    "moto.logs.models:LogsBackend.create_log_stream": "an environment's stream [put_log_lines]",
    "moto.logs.models:LogsBackend.put_log_events": "the log lines of an invoke [put_log_lines]",
    "moto.logs.models:LogsBackend().groups": "whether the group exists yet [put_log_lines]",
    "moto.logs.models:LogGroup().streams": "whether the stream exists yet [put_log_lines]",
    # moto's WSGI application behind the sandbox's one endpoint (used by server.py).
    "moto.moto_server.werkzeug_app:DomainDispatcherApplication": (
        "moto's WSGI application [wsgi_app]"
    ),
    "moto.moto_server.werkzeug_app:create_backend_app": "its per-service applications [wsgi_app]",
    "moto.moto_server.werkzeug_app:MotoRequestHandler": "the request handler we extend [__all__]",
}
