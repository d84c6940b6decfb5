"""provision: bring fleets of Windows hosts to a container-ready state, and report drift."""

__all__ = ["__version__"]

__version__ = "0.1.0"
