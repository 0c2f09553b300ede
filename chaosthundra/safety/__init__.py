"""Operational safety: preflight guardrails, the ledger of what is being changed,
proof that a fault fired (verification), and the kill switch that clears them all."""
