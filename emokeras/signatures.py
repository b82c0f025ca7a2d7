"""Defaults read from signatures, so that each default is written once:
where it is used."""

import inspect


def signature_defaults(function):
    """`{argument: default}` of the keyword arguments of `function` (or of a
    class's `__init__`)."""
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
