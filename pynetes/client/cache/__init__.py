"""Informers' machinery: an indexed store of objects, the reflector that keeps it
in step with the API server, and the informers built on them."""
