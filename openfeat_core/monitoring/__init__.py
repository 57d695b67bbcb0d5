"""Feature monitoring: statistics and population stability of feature tables (:mod:`.stats`) and the reference
profile a deployment is compared with, the statistics of the training set it was deployed from
(:mod:`.reference`). Used by the deploy task, the service (its metrics and routes), ``openfeat monitor`` and the
MLflow hooks; it imports none of them."""
