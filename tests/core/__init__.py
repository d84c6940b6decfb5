"""Core tests: spec, facts, compat, plan, rendering and records, without any host or network."""
