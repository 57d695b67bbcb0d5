"""The OpenFeat hook: :class:`airflow_provider.hooks.openfeat.OpenFeatHook`."""
