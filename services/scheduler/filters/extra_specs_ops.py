"""The extra-spec operators (``=``, ``<in>``, ``s==``, ``<or>`` ...) of Stein."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

op_methods: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda x, y: float(x) >= float(y),
    "<in>": lambda x, y: y in x,
    "<all-in>": lambda x, y: all(val in x for val in y),
    "==": lambda x, y: float(x) == float(y),
    "!=": lambda x, y: float(x) != float(y),
    ">=": lambda x, y: float(x) >= float(y),
    "<=": lambda x, y: float(x) <= float(y),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
}


def match(value: Any, req: str) -> bool:
    """Does the host's *value* satisfy the flavor's requirement string *req*?"""
    words = req.split()
    op = method = None
    if words:
        op = words.pop(0)
        method = op_methods.get(op)
    if op != "<or>" and not method:
        return value == req
    if value is None:
        return False
    if op == "<or>":  # <or> v1 <or> v2 <or> v3
        while True:
            if words.pop(0) == value:
                return True
            if not words:
                break
            words.pop(0)  # the next <or>
            if not words:
                break
        return False
    if words and method is not None:
        if op == "<all-in>":
            return method(value, words)
        return method(value, words[0])
    return False
