"""Scenarios: YAML files (``spec``) run on the embedded cloud (``embedded``) or on a
process deployment (``deployed``), dispatched by ``runner``."""
