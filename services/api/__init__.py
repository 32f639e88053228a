"""nova-api: the WSGI pipeline (request id, fault wrap, noauth, router → controllers)."""
