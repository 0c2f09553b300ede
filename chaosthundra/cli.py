"""The ``chaosthundra`` command."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import click

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


@main.command()
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="AWS SAM template to deploy [default: functions/template.yaml when present].",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the AWS endpoint on 127.0.0.1 (0: any free port).")  # fmt: skip
@click.option("--region", default="us-east-1", show_default=True, help="AWS region to emulate.")
def sandbox(template: Optional[Path], port: int, region: str) -> None:
    """Run the embedded sandbox in the foreground until Ctrl-C or SIGTERM."""
    from .aws import SANDBOX_CREDENTIALS
    from .sandbox import Sandbox, SandboxError

    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    box = Sandbox(template=template, port=port, region=region)
    try:
        try:
            box.start()
        except SandboxError as exc:
            raise click.ClickException(str(exc)) from None
        functions = [name for d in box.deployments for name in d.functions]
        click.echo(f"AWS endpoint: {box.endpoint_url}")
        click.echo(f"Redis:        {box.redis_url}")
        if functions:
            click.echo(f"Functions:    {', '.join(functions)}")
        click.echo("")
        click.echo("# To use it from another shell:")
        click.echo(f"export AWS_ENDPOINT_URL={box.endpoint_url}")
        click.echo(f"export AWS_REGION={region}")
        click.echo(f"export AWS_DEFAULT_REGION={region}")
        click.echo(f"export AWS_ACCESS_KEY_ID={SANDBOX_CREDENTIALS['aws_access_key_id']}")
        click.echo(f"export AWS_SECRET_ACCESS_KEY={SANDBOX_CREDENTIALS['aws_secret_access_key']}")
        click.echo(f"export CHAOSTHUNDRA_REDIS_URL={box.redis_url}")
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


if __name__ == "__main__":
    main()
