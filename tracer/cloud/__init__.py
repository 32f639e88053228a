"""bootflow's harness around the Nova-shaped services: how a cloud is put together and run.

``embedded`` (all services as threads, the demo and tests), ``processes`` (one OS process
per service: ``bootflow up``), ``netfault`` (cutting a service off the broker). None of it
is Nova; ``services/`` holds only Nova-shaped code.
"""
