"""``python -m openfeat_core.conformance PATH... [--mode batch|request|both] [--json FILE] [--skiplist FILE]
[--filter SUBSTRING] [-v]``: run OpenMLDB conformance cases (see :mod:`openfeat_core.conformance.runner`)."""

from openfeat_core.conformance.runner import main

raise SystemExit(main())
