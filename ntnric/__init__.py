"""ntnric's command line and orchestration: the composition root above e2_sim, ric, xapps, models."""

__version__ = "0.1.0"
