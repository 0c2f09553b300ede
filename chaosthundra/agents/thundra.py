"""The Thundra agent: ``thundra`` 2.x, and 3.0.0 to 3.0.6, import package ``thundra``."""

from chaosthundra.agents.profile import AgentProfile

__all__ = ["THUNDRA"]

THUNDRA = AgentProfile(
    name="thundra",
    title="Thundra 2.x",
    listener_prefixes=("THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG",),
    write_prefix="THUNDRA_AGENT_TRACE_SPAN_LISTENERCONFIG",
    layer_handler="thundra.handler.wrapper",
    handler_variable="THUNDRA_AGENT_LAMBDA_HANDLER",
    variable_prefix="THUNDRA_",
    layer_marker="thundra",
    package="thundra",
    versions=((0,), (3, 0, 7)),
    parser_module="thundra.plugins.trace.trace_support",
    logger_name="thundra",
    disable_variable="THUNDRA_AGENT_DISABLE",
    info_tag="thundra.span_listener.info",
    report_variable="THUNDRA_AGENT_REPORT_CLOUDWATCH_ENABLE",
    spans_in_log=True,
    default_error_message="Error injected by Thundra!",
    instrument_hint=(
        "wrap the handler in code (`from thundra.thundra_agent import Thundra; thundra = "
        "Thundra(api_key=...)`, then `@thundra`) with thundra<3.0.7 in the package, or add "
        "the Thundra layer, set the handler to 'thundra.handler.wrapper' and "
        "THUNDRA_AGENT_LAMBDA_HANDLER to the real handler"
    ),
)
