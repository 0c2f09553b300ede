"""The injection engine: enable, disable and remove injections, with their owners and
the ledger. The faces (actions, probes, controls) call it; it calls safety/ and targets/."""
