"""Imports every module that registers functions. Add a module here when you add one."""

from openfeat_core.functions import (  # noqa: F401
    agg_basic,
    agg_cate,
    agg_order,
    agg_stats,
    arrays,
    cast,
    datetimes,
    mathfuncs,
    operators,
    signatures,
    strings,
)
