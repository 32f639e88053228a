"""A glance-like image list (nova/image/glance.py's API, in-process)."""
