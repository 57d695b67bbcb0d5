"""The OpenFeat sensors: :class:`airflow_provider.sensors.openfeat.OpenFeatTableSensor`."""
