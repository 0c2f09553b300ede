"""Lambda's control plane as AWS answers it, in front of moto's.

A WSGI middleware over moto's application. It takes the Lambda routes where moto
is kinder than Lambda, checks what Lambda checks before a write (update in
progress or Pending: 409; stale RevisionId: 412; environment variables: keys,
reserved keys, 4 KB), forwards the request to moto unchanged, then completes the
answer with what moto does not keep (RevisionId, State, LastUpdateStatus, a
``Code.Location`` on this endpoint). The checks and answer fields are in
:mod:`.control_rules`, the state in :mod:`.function_states`, the WSGI mechanics of
forwarding and answering in :mod:`.wsgi_forward`; moto's objects are reached only
through :mod:`.moto_state`. Every other request goes to moto untouched.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional
from urllib.parse import parse_qs, quote, unquote

from . import moto_state
from .control_rules import (
    check_environment,
    check_revision,
    check_unreferenced,
    check_writable,
    present_alias,
    present_config,
)
from .errors import ApiError
from .function_states import STATES, FunctionRecord, new_revision
from .wsgi_forward import (
    Answer,
    answer_json,
    error_answer,
    forward,
    read_body,
    replace_body,
    respond,
)

__all__ = ["CODE_PATH", "LambdaControlPlane"]

logger = logging.getLogger("chaostoolkit")

_API = "/2015-03-31/functions"
_ROUTES = [
    ("functions", re.compile(rf"^{_API}/?$")),
    ("function", re.compile(rf"^{_API}/(?P<name>[^/]+)/?$")),
    ("configuration", re.compile(rf"^{_API}/(?P<name>[^/]+)/configuration/?$")),
    ("code", re.compile(rf"^{_API}/(?P<name>[^/]+)/code/?$")),
    ("versions", re.compile(rf"^{_API}/(?P<name>[^/]+)/versions/?$")),
    ("aliases", re.compile(rf"^{_API}/(?P<name>[^/]+)/aliases/?$")),
    ("alias", re.compile(rf"^{_API}/(?P<name>[^/]+)/aliases/(?P<alias>[^/]+)/?$")),
]
CODE_PATH = "/_chaosthundra/code"
_CODE = re.compile(
    rf"^{CODE_PATH}/(?P<account>[^/]+)/(?P<region>[^/]+)/(?P<name>[^/]+)/(?P<sha>[0-9a-f]+)\.zip$"
)
_DEFAULT_REGION = "us-east-1"  # moto's, for a request without a signed region


@dataclass
class _Request:
    """One Lambda control-plane request, as the middleware needs it."""

    environ: dict[str, Any]
    route: str
    method: str
    name: str
    alias: Optional[str]
    query: dict[str, str]
    account: str
    region: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        scheme = self.environ.get("wsgi.url_scheme", "http")
        return f"{scheme}://{self.environ.get('HTTP_HOST', '127.0.0.1')}"


class LambdaControlPlane:
    """WSGI middleware: Lambda's checks and answer fields around moto's Lambda.

    ``update_delay_s()`` gives the time an update (or a creation) stays InProgress
    (Pending); it is read at each write.
    """

    def __init__(self, moto: Callable, update_delay_s: Callable[[], float]) -> None:
        self.moto = moto
        self.update_delay_s = update_delay_s

    # --- WSGI -----------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CODE_PATH):
            return respond(start_response, self._code_download(path))
        request = self._parse(environ)
        if request is None:
            return self.moto(environ, start_response)
        handler = getattr(self, f"_{request.route}_{request.method.lower()}", None)
        if handler is None:
            return self.moto(environ, start_response)
        try:
            answer = handler(request)
        except ApiError as error:
            answer = error_answer(error)
        except Exception as exc:  # a sandbox bug: answer like AWS would, log the cause
            logger.error(
                "chaosthundra sandbox: %s %s failed", request.method, request.route, exc_info=True
            )
            answer = error_answer(
                ApiError(500, "ServiceException", f"sandbox error: {type(exc).__name__}")
            )
        return respond(start_response, answer)

    def _parse(self, environ: dict[str, Any]) -> Optional[_Request]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(_API):
            return None
        found = next(((r, m) for r, pattern in _ROUTES if (m := pattern.match(path))), None)
        if found is None:
            return None
        route, groups = found[0], found[1].groupdict()
        account, signed_region = moto_state.account_for_request(environ)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        request = _Request(
            environ=environ,
            route=route,
            method=environ.get("REQUEST_METHOD", "GET"),
            name=unquote(groups.get("name") or ""),
            alias=unquote(groups["alias"]) if groups.get("alias") else None,
            query=query,
            account=account,
            region=signed_region or _DEFAULT_REGION,
        )
        raw = read_body(environ)
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            request.body = parsed if isinstance(parsed, dict) else {}
        return request

    def _forward(self, request: _Request) -> Answer:
        return forward(self.moto, request.environ)

    # --- state ----------------------------------------------------------------------

    def _latest(self, request: _Request) -> tuple[Any, FunctionRecord]:
        """``$LATEST`` of the function the request names (by name or ARN, qualified or
        not) and its settled record."""
        named = moto_state.lambda_object(request.account, request.region, request.name)
        latest = moto_state.lambda_object(
            request.account, request.region, moto_state.name_of(named)
        )
        return latest, moto_state.function_record(request.account, request.region, latest)

    def _read(self, request: _Request, present: Callable[[Any, FunctionRecord], None]) -> Answer:
        """Forward a read to moto; complete its answer with ``present(data, record)``."""
        answer = self._forward(request)
        if answer.status not in (200, 201):
            return answer
        data = answer.json()
        present(data, self._latest(request)[1])
        return answer_json(answer, data, status=200)

    @staticmethod
    def _each(key: str, present: Callable[[Any, FunctionRecord], None]) -> Callable:
        def each(data: dict[str, Any], record: FunctionRecord) -> None:
            for item in data.get(key, []):
                present(item, record)

        return each

    # --- functions ------------------------------------------------------------------

    def _functions_post(self, request: _Request) -> Answer:  # CreateFunction
        check_environment(request.body)
        with STATES.lock:
            answer = self._forward(request)
            if answer.status != 201:
                return answer
            config = answer.json()
            latest = moto_state.lambda_object(
                request.account, request.region, config["FunctionName"]
            )
            record = moto_state.function_record(request.account, request.region, latest)
            record.created(self.update_delay_s())
            self._detach_published(request, config)
            present_config(config, record)
            return answer_json(answer, config)

    def _functions_get(self, request: _Request) -> Answer:  # ListFunctions
        answer = self._forward(request)
        if answer.status != 200:
            return answer
        data = answer.json()
        for config in data.get("Functions", []):
            self._present_listed(request, config)
        return answer_json(answer, data)

    def _present_listed(self, request: _Request, config: dict[str, Any]) -> None:
        try:
            latest = moto_state.lambda_object(
                request.account, request.region, config["FunctionName"]
            )
        except ApiError:
            return
        present_config(config, moto_state.function_record(request.account, request.region, latest))

    def _function_get(self, request: _Request) -> Answer:  # GetFunction
        def present(data: dict[str, Any], record: FunctionRecord) -> None:
            config = data.get("Configuration") or {}
            present_config(config, record)
            code = data.get("Code")
            zipped = isinstance(code, dict) and code.get("RepositoryType") == "S3"
            if zipped and config.get("CodeSha256"):
                code["Location"] = "/".join(
                    [
                        request.endpoint + CODE_PATH,
                        quote(request.account),
                        quote(request.region),
                        quote(config["FunctionName"]),
                        moto_state.sha256_hex_of(config["CodeSha256"]) + ".zip",
                    ]
                )

        return self._read(request, present)

    def _function_delete(self, request: _Request) -> Answer:  # DeleteFunction
        qualifier = request.query.get("Qualifier")
        if qualifier == "$LATEST" or request.name.endswith(":$LATEST"):
            raise ApiError(
                400,
                "InvalidParameterValueException",
                "$LATEST version cannot be deleted without deleting the function.",
            )
        with STATES.lock:
            latest, record = self._latest(request)
            if qualifier:
                check_unreferenced(
                    request.account, request.region, moto_state.name_of(latest), qualifier
                )
            answer = self._forward(request)
            if answer.status == 204:
                if qualifier:
                    record.versions.pop(qualifier, None)
                else:
                    STATES.forget((request.account, request.region, moto_state.name_of(latest)))
            return answer

    def _configuration_get(self, request: _Request) -> Answer:  # GetFunctionConfiguration
        return self._read(request, present_config)

    def _configuration_put(self, request: _Request) -> Answer:  # UpdateFunctionConfiguration
        check_environment(request.body)
        environment = request.body.get("Environment")
        if isinstance(environment, dict) and "Variables" not in environment:
            request.body["Environment"] = {"Variables": {}}
            replace_body(request.environ, request.body)
        return self._update(request)

    def _code_put(self, request: _Request) -> Answer:  # UpdateFunctionCode
        if request.body.get("DryRun"):
            answer = self._forward(request)
            return self._with_config(answer, self._latest(request)[1])
        return self._update(request)

    def _update(self, request: _Request) -> Answer:
        with STATES.lock:
            latest, record = self._latest(request)
            check_writable(latest, record)
            check_revision(request.body.get("RevisionId"), record.revision)
            stable = moto_state.detached_copy(latest)
            answer = self._forward(request)
            if answer.status != 200:
                return answer
            modified = moto_state.touch(latest)
            record.update_started(stable, self.update_delay_s())
            self._detach_published(request, answer.json())
            return self._with_config(answer, record, modified)

    def _with_config(
        self, answer: Answer, record: FunctionRecord, last_modified: Optional[str] = None
    ) -> Answer:
        """The answer of an update: ``$LATEST`` as the write left it (modified at
        ``last_modified``, when given), or the version it published (``Publish``)."""
        if answer.status != 200:
            return answer
        config = answer.json()
        if last_modified and str(config.get("Version") or "$LATEST") == "$LATEST":
            config["LastModified"] = last_modified
        present_config(config, record)
        return answer_json(answer, config)

    def _detach_published(self, request: _Request, config: dict[str, Any]) -> None:
        """A version moto published within this request gets its own copies of
        ``$LATEST``'s containers (moto's copy is shallow)."""
        version = str(config.get("Version") or "$LATEST")
        if version != "$LATEST":
            name = str(config["FunctionName"])
            moto_state.detach(
                moto_state.lambda_object(request.account, request.region, name, version)
            )

    # --- versions -------------------------------------------------------------------

    def _versions_post(self, request: _Request) -> Answer:  # PublishVersion
        with STATES.lock:
            latest, record = self._latest(request)
            check_writable(latest, record)
            check_revision(request.body.get("RevisionId"), record.revision)
            where = (request.account, request.region, moto_state.name_of(latest))
            count = moto_state.published_count(*where)
            answer = self._forward(request)
            if answer.status != 201:
                return answer
            config = answer.json()
            number = moto_state.number_published(*where, count, record.last_version)
            if number is not None:
                record.last_version = int(number)
                config["FunctionArn"] = f"{config['FunctionArn'].rsplit(':', 1)[0]}:{number}"
                config["Version"] = number
            self._detach_published(request, config)
            present_config(config, record)
            return answer_json(answer, config)

    def _versions_get(self, request: _Request) -> Answer:  # ListVersionsByFunction
        return self._read(request, self._each("Versions", present_config))

    # --- aliases --------------------------------------------------------------------

    def _aliases_post(self, request: _Request) -> Answer:  # CreateAlias
        with STATES.lock:
            _, record = self._latest(request)
            answer = self._forward(request)
            if answer.status != 201:
                return answer
            alias = answer.json()
            record.aliases[str(alias["Name"])] = new_revision()
            present_alias(alias, record)
            return answer_json(answer, alias)

    def _aliases_get(self, request: _Request) -> Answer:  # ListAliases
        return self._read(request, self._each("Aliases", present_alias))

    def _alias_get(self, request: _Request) -> Answer:  # GetAlias (moto answers 201)
        return self._read(request, present_alias)

    def _alias_put(self, request: _Request) -> Answer:  # UpdateAlias
        with STATES.lock:
            _, record = self._latest(request)
            alias_name = str(request.alias)
            if (
                moto_state.alias_routing(request.account, request.region, request.name, alias_name)
                is None
            ):
                return self._forward(request)  # moto answers the 404
            check_revision(request.body.get("RevisionId"), record.alias_revision(alias_name))
            answer = self._forward(request)
            if answer.status not in (200, 201):
                return answer
            alias = answer.json()
            record.aliases[str(alias["Name"])] = new_revision()
            present_alias(alias, record)
            return answer_json(answer, alias, status=200)

    def _alias_delete(self, request: _Request) -> Answer:  # DeleteAlias (moto answers 201)
        with STATES.lock:
            _, record = self._latest(request)
            answer = self._forward(request)
            if answer.status in (200, 201, 204):
                record.aliases.pop(str(request.alias), None)
                answer.status, answer.body = 204, b""
            return answer

    # --- Code.Location --------------------------------------------------------------

    @staticmethod
    def _code_download(path: str) -> Answer:
        match = _CODE.match(path)
        data = None
        if match is not None:
            account, region, name = (unquote(match[k]) for k in ("account", "region", "name"))
            data = moto_state.code_by_sha256(account, region, name, match["sha"])
        if data is None:
            return Answer(404, [("Content-Type", "text/plain")], b"No such deployment package.\n")
        return Answer(200, [("Content-Type", "application/zip")], data)
