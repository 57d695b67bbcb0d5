"""The OpenFeat operators: :mod:`airflow_provider.operators.openfeat`."""
