"""The Catchpoint agent: the ``thundra`` distribution 3.0.7 and later, import package
``catchpoint``. It reads only ``CATCHPOINT_*`` variables and, unlike Thundra 2.x, never
prints its spans to the function's log: it sends them to its collector. What a log shows
of it is the injected error itself (its message) and its own complaints."""

from chaosthundra.agents.profile import AgentProfile

__all__ = ["CATCHPOINT"]

CATCHPOINT = AgentProfile(
    name="catchpoint",
    title="Catchpoint (thundra 3.0.7+)",
    listener_prefixes=(
        "CATCHPOINT_TRACE_SPAN_LISTENERCONFIG",
        "CATCHPOINT_LAMBDA_TRACE_SPAN_LISTENERCONFIG",
    ),
    write_prefix="CATCHPOINT_TRACE_SPAN_LISTENERCONFIG",
    layer_handler="catchpoint.handler.wrapper",
    handler_variable="CATCHPOINT_LAMBDA_HANDLER",
    variable_prefix="CATCHPOINT_",
    layer_marker="catchpoint",
    package="catchpoint",
    versions=((3, 0, 7), None),
    parser_module="catchpoint.plugins.trace.trace_support",
    logger_name="catchpoint",
    disable_variable="CATCHPOINT_DISABLE",
    info_tag="catchpoint.span_listener.info",
    report_variable=None,
    spans_in_log=False,
    default_error_message="Error injected by Catchpoint!",
    instrument_hint=(
        "wrap the handler in code (`from catchpoint.catchpoint_agent import Catchpoint; "
        "catchpoint = Catchpoint()`, then `@catchpoint`) with thundra>=3.0.7 in the package, "
        "or add the Catchpoint layer, set the handler to 'catchpoint.handler.wrapper' and "
        "CATCHPOINT_LAMBDA_HANDLER to the real handler"
    ),
)
