"""Property tests: the engine against the slow reference evaluator (``tests/reference.py``) on random data."""
