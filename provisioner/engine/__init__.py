"""Running the plan on hosts: one host (host.py), then fleets in batches (rollout.py)."""
