"""The AWS options of the ``chaosthundra`` commands that reach AWS or a sandbox
(status, clear, load-worker), and the configuration they make: the same keys as an
experiment's configuration.

Imports nothing of chaosthundra: the CLI and the load face's command both use it.
"""

from __future__ import annotations

from typing import Any, Optional

import click

__all__ = ["aws_configuration", "aws_options"]


def aws_options(func: Any) -> Any:
    """The client configuration shared by status, clear and load-worker (same keys as
    activities)."""
    options = [
        click.option(
            "--sandbox-url",
            envvar="CHAOSTHUNDRA_SANDBOX_URL",
            default=None,
            help="A running `chaosthundra sandbox` endpoint [env CHAOSTHUNDRA_SANDBOX_URL].",
        ),
        click.option(
            "--region",
            envvar="AWS_REGION",
            default=None,
            help="AWS region [env AWS_REGION; us-east-1 for a sandbox].",
        ),
        click.option("--profile", default=None, help="AWS profile name."),
        click.option("--assume-role-arn", default=None, help="Role to assume first."),
        click.option(
            "--endpoint-url",
            envvar="AWS_ENDPOINT_URL",
            default=None,
            help="AWS endpoint override [env AWS_ENDPOINT_URL].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def aws_configuration(
    sandbox_url: Optional[str],
    region: Optional[str],
    profile: Optional[str],
    assume_role_arn: Optional[str],
    endpoint_url: Optional[str],
) -> dict:
    """The experiment configuration that the options of :func:`aws_options` name."""
    configuration: dict = {}
    if sandbox_url:
        configuration.update(
            aws_endpoint_url=sandbox_url, chaosthundra_sandbox=True, aws_region="us-east-1"
        )
    elif endpoint_url:
        configuration["aws_endpoint_url"] = endpoint_url
    if region:
        configuration["aws_region"] = region
    if profile:
        configuration["aws_profile_name"] = profile
    if assume_role_arn:
        configuration["aws_assume_role_arn"] = assume_role_arn
    return configuration
