"""Streaming tests: a real Apache Kafka broker for the session (tests/stream/kafka_broker.py).

The fixtures ``kafka_broker`` and ``kafka_bootstrap`` are in ``tests/conftest.py``, shared with the orchestrator
suites' ingest-stream tests. ``OPENFEAT_KAFKA_BOOTSTRAP=host:port`` runs the same tests against an existing broker
instead (the broker-restart test then skips: it restarts only a broker it started). Without confluent-kafka (the
``kafka`` extra) the broker tests skip; without java or mvn, or when Maven Central is unreachable, the broker cannot
be had and they skip too. ``make test`` runs this directory (and tests/monitoring/test_scrape.py, the other user of
the broker in .venv) in its adapters' lane, beside the core lane's pytest (the Makefile's JVM_TESTS).
"""
