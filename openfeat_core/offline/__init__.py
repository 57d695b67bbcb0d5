"""Offline work: ``compute()`` over tables given as Arrow data or files, on the engine (:mod:`openfeat_core.engine`)."""
