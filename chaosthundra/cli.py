"""The ``chaosthundra`` command."""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import click

from .cli_options import aws_configuration, aws_options
from .load.worker import load_worker

__all__ = ["main"]

logger = logging.getLogger("chaostoolkit")


def _setup_logging(verbose: bool) -> None:
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s] %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


@click.group()
@click.option("--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """chaosthundra: Thundra span-listener fault injection for AWS Lambda."""
    _setup_logging(verbose)


def _python_mapping(ctx: click.Context, param: click.Parameter, value: Any) -> dict[str, str]:
    from .runtimes import parse_mapping

    try:
        return parse_mapping(",".join(value or ()))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _sandbox_options(func: Any) -> Any:
    """The options of `chaosthundra sandbox` and `chaosthundra sandbox up`."""
    options = [
        click.option(
            "--template",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="AWS SAM template to deploy [default: functions/template.yaml when present].",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=0,
            show_default=True,
            help="Port of the AWS endpoint on 127.0.0.1 (0: any free port).",
        ),
        click.option(
            "--region", default="us-east-1", show_default=True, help="AWS region to emulate."
        ),
        click.option(
            "--update-delay",
            "update_delay",
            type=click.IntRange(min=0),
            default=None,
            metavar="MS",
            help="Milliseconds a Lambda update stays InProgress (and a new function "
            "Pending) [default: env CHAOSTHUNDRA_SANDBOX_UPDATE_DELAY_MS, else 0].",
        ),
        click.option(
            "--python",
            "pythons",
            multiple=True,
            metavar="python3.X=PATH",
            callback=_python_mapping,
            help="The interpreter of a Python Runtime (repeatable, or comma-separated), "
            "before env CHAOSTHUNDRA_PYTHONS, PATH, pyenv and uv are searched.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.group(invoke_without_command=True)
@_sandbox_options
@click.pass_context
def sandbox(
    ctx: click.Context,
    template: Optional[Path],
    port: int,
    region: str,
    update_delay: Optional[int],
    pythons: dict[str, str],
) -> None:
    """Run the embedded sandbox in the foreground until Ctrl-C or SIGTERM
    (the same as `chaosthundra sandbox up`)."""
    if ctx.invoked_subcommand is None:
        _run_sandbox(template, port, region, update_delay, pythons)


@sandbox.command("up")
@_sandbox_options
def sandbox_up(
    template: Optional[Path],
    port: int,
    region: str,
    update_delay: Optional[int],
    pythons: dict[str, str],
) -> None:
    """Run the embedded sandbox in the foreground until Ctrl-C or SIGTERM."""
    _run_sandbox(template, port, region, update_delay, pythons)


def shell_exports(endpoint_url: str, region: str, redis_url: str) -> dict[str, str]:
    """What another shell exports to use a running sandbox: `chaos run` (through the
    sandbox control) and `chaosthundra status/clear` attach to it rather than start
    their own, and boto3 and the AWS CLI reach it with its dummy credentials."""
    from .aws import SANDBOX_CREDENTIALS

    return {
        "CHAOSTHUNDRA_SANDBOX_URL": endpoint_url,
        "CHAOSTHUNDRA_TARGET": "sandbox",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": SANDBOX_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": SANDBOX_CREDENTIALS["aws_secret_access_key"],
        "CHAOSTHUNDRA_REDIS_URL": redis_url,
    }


def _run_sandbox(
    template: Optional[Path],
    port: int,
    region: str,
    update_delay: Optional[int],
    pythons: dict[str, str],
) -> None:
    from .sandbox import Sandbox, SandboxError

    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    try:
        box = Sandbox(
            template=template,
            port=port,
            region=region,
            update_delay_ms=update_delay,
            warm_templates=True,
            pythons=pythons,
        )
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            box.start()
        except SandboxError as exc:
            raise click.ClickException(str(exc)) from None
        functions = [name for d in box.deployments for name in d.functions]
        click.echo(f"AWS endpoint: {box.endpoint_url}")
        click.echo(f"Redis:        {box.redis_url}")
        click.echo(f"Update delay: {box.update_delay_ms} ms")
        if functions:
            click.echo(f"Functions:    {', '.join(functions)}")
        for name, reason in box.not_runnable().items():
            click.echo(f"Not runnable: {name}: {reason}")
        click.echo("")
        click.echo("# To use it from another shell:")
        for name, value in shell_exports(box.endpoint_url, region, box.redis_url).items():
            click.echo(f"export {name}={shlex.quote(value)}")
        click.echo("")
        click.echo("Press Ctrl-C to stop.", err=True)
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        box.stop()
    click.echo("Sandbox stopped.", err=True)


def _guarded(call: Any, configuration: dict, *args: Any) -> Any:
    """Run a kill-switch call; an error becomes one line, not a traceback: chaosthundra's
    own, or botocore's with the endpoint it came from."""
    from botocore.exceptions import BotoCoreError, ClientError
    from chaoslib.exceptions import ChaosException

    from .endpoints import resolve_endpoint_url

    try:
        return call(configuration, *args)
    except ChaosException as exc:
        raise click.ClickException(" ".join(str(exc).split())) from None
    except (BotoCoreError, ClientError) as exc:
        endpoint = resolve_endpoint_url(configuration) or "AWS"
        raise click.ClickException(
            f"chaosthundra: {' '.join(str(exc).split())} (endpoint: {endpoint}). Check that "
            "the endpoint answers as AWS, and the region and credentials."
        ) from None


def _scope(config: Optional[dict]) -> str:
    if not config:
        return "?"
    filters = (config.get("config") or {}).get("filters") or []
    return (
        "; ".join(" ".join(f"{k}={v}" for k, v in f.items() if k != "reverse") for f in filters)
        or "-"
    )


def _owner(record: Any) -> str:
    """Who holds an injection, and whether it provably no longer runs."""
    from .engine.owners import Owner

    owner = Owner.from_json(record)
    if owner is None:
        return "none recorded"
    gone = owner.gone()
    return owner.describe() + (f" (gone: {gone})" if gone else "")


@main.command()
@click.option("--function", "functions", multiple=True, help="Only this function (repeatable).")
@aws_options
def status(functions: tuple, **aws: Any) -> None:
    """List the functions that have an active chaosthundra injection."""
    from .safety.killswitch import scan

    scanned = _guarded(scan, aws_configuration(**aws), None, list(functions) or None)
    found = [(fn["function_name"], i) for fn in scanned for i in fn["injections"] if i["ours"]]
    versions = [c for fn in scanned for c in fn["chaos_versions"]]
    if not found and not versions:
        click.echo("No chaosthundra injection is active.")
        return
    if found:
        click.echo(f"{'FUNCTION':<32} {'INJECTION':<20} {'KIND':<8} SCOPE")
    for name, injection in found:
        click.echo(
            f"{name:<32} {injection['name']:<20} {injection['kind']:<8} "
            f"{_scope(injection['config'])}; owner: {_owner(injection.get('owner'))}"
        )
    if versions:
        click.echo(f"{'FUNCTION':<32} {'ALIAS':<16} {'VERSION':<8} {'SHARE':<6} INJECTIONS")
    for c in versions:
        routed = c["alias"] if c["routed_by"] else f"{c['alias']} (not routed)"
        before = f"before: {c['routing_before']}"
        if c["moved_since_the_fault"]:
            before = "moved by a deploy since the fault: clear only takes this version out"
        click.echo(
            f"{c['function_name']:<32} {routed:<16} {c['version']:<8} "
            f"{c['traffic_percentage']:<6g} {', '.join(c['injections'])}; {before}"
        )


@main.command()
@click.option("--function", "functions", multiple=True, help="Only this function (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@aws_options
def clear(functions: tuple, yes: bool, **aws: Any) -> None:
    """Remove every chaosthundra injection (the kill switch); other variables are kept."""
    from .safety.killswitch import clear as clear_injections
    from .safety.killswitch import with_injections

    configuration = aws_configuration(**aws)
    targets = _guarded(with_injections, configuration, None, list(functions) or None)
    if not targets:
        click.echo("No chaosthundra injection is active; nothing to clear.")
        return
    click.echo(f"Active injections on: {', '.join(targets)}")
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal: pass --yes to clear without confirmation")
        click.confirm("Remove them all?", abort=True)
    results = _guarded(clear_injections, configuration, None, targets)
    for result in results:
        if result["error"]:
            click.echo(f"FAILED {result['function_name']}: {result['error']}", err=True)
        else:
            removed = ", ".join(result["removed"]) or "nothing"
            click.echo(f"cleared {result['function_name']}: removed {removed}{_routed(result)}")
    if any(result["error"] for result in results):
        sys.exit(1)


def _routed(result: dict) -> str:
    """What `clear` did to a function's aliases, for its one line."""
    if not result["versions_deleted"]:
        return ""
    said = ""
    if result["aliases_restored"] or not result["aliases_moved"]:
        said += f"; aliases {', '.join(result['aliases_restored']) or 'none'} routed as before"
    for moved in result["aliases_moved"]:
        said += (
            f"; alias {moved['alias']} moved since the fault (it routed {moved['found']}, the "
            f"fault left {moved['fault_set']}): took chaos version {moved['chaos_version']} "
            f"out and put nothing back, it routes {moved['now']}"
        )
    return f"{said}, chaos versions {', '.join(result['versions_deleted'])} deleted"


@main.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option(
    "--report",
    "report_dir",
    default="reports/gameday",
    show_default=True,
    help="Directory for the journals, logs and report.html.",
)
def gameday(plan: str, report_dir: str) -> None:
    """Run a gameday PLAN (YAML): every run, a table of outcome versus expectation.

    Exit code 0 when every outcome matched, 1 when one did not, 2 on a usage error.
    """
    from .gameday.command import run_gameday

    sys.exit(run_gameday(plan, report_dir))


main.add_command(load_worker)


if __name__ == "__main__":
    main()
