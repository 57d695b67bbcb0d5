"""The engine: how a bound plan is evaluated, the same way for batch and request mode.

It holds the executor (:mod:`~openfeat_core.engine.executor`: whole tables in batch mode, request rows against
stored rows in request mode), expression evaluation over in-memory relations
(:mod:`~openfeat_core.engine.relation`), LAST JOIN (:mod:`~openfeat_core.engine.lastjoin`), window frame
boundaries (:mod:`~openfeat_core.engine.windowing`) and the seam where a batch executor is chosen
(:mod:`~openfeat_core.engine.backend`). Offline work (:mod:`openfeat_core.offline`) and online serving
(:mod:`openfeat_core.online`) both sit on it; it imports neither (``tests/unit/test_layers.py`` checks), so that
"the online answer is the offline answer" is one implementation rather than two kept equal.
"""
