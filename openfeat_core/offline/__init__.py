"""Offline (batch) execution of feature scripts."""
