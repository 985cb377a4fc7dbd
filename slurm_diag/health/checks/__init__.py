"""One module per check family; each registers itself with ``@check``."""
