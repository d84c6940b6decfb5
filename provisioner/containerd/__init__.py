"""containerd for Kubernetes Windows nodes: the pure rules (versions.py) and config.toml by key
(config.py), kept apart from the resources that use them so they can be tested without a host."""
