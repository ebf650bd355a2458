"""The one parameter type: what indicators, quality checks and export formats declare.

A :class:`Param` is a name, a type (``int``, ``float``, ``str``, ``bool``, or ``object`` for
any value), a default, inclusive bounds for numbers, optional ``choices``, a ``doc`` line
and an optional ``check`` for any other rule. :meth:`Param.coerce` is the one validation:
it parses text (from the command line or a text box), refuses what is of the wrong type,
outside the bounds or not among the choices, and returns the value typed. The widgets
build their forms from Params (:mod:`tsanalysis.widgets._form`), so a form refuses exactly
what the core refuses.

Two ways of writing one, both in use::

    Param("timeperiod", int, 14, minimum=2, maximum=100_000, doc="bars averaged")
    Param(14, "bars averaged", minimum=2)   # a quality check's: default first, doc second

The second form (a default that is not a lone text, then optionally a doc) leaves the name
empty: the owner names it (a check's ``params`` mapping does) and infers the type from the
default. ``Param("p")`` is a parameter named ``p``; write ``Param(default="text")`` for an
unnamed text default.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInput

#: What a parameter name looks like (when given).
PARAM_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool", object: "any"}
_KINDS = {int: "an integer", float: "a number", str: "text", bool: "true or false",
          object: "a value"}
_FIELDS = ("name", "type", "default", "minimum", "maximum", "choices", "doc", "check", "lower")


class InvalidParameter(InvalidInput):
    """A parameter value is of the wrong type or outside its bounds."""

    def __init__(self, indicator: str, param: str, value: object, expected: str):
        super().__init__(f"{indicator}: parameter {param} must be {expected}, got {value!r}")
        #: The owner of the parameter (an indicator's name, for indicators).
        self.indicator = indicator
        self.param = param
        self.value = value
        self.expected = expected


class _Refused(Exception):
    """Why :meth:`Param._typed` refused a value: ``type``, ``choices``, ``minimum``,
    ``maximum``, or the text returned by ``check``."""


@dataclass(frozen=True, init=False)
class Param:
    """A declared parameter: name, type, default, bounds, choices, doc.

    ``type`` is ``int``, ``float``, ``str``, ``bool`` or ``object`` (any value, unchecked).
    ``minimum``/``maximum`` are inclusive bounds for numbers; ``choices`` restricts the
    values; ``check(value)``, for any other rule, returns an error description or None.
    ``lower``: text values are trimmed and lower-cased (indicator parameters become parts
    of lower-case ids); False keeps text as given (the default for the default-first form).

    See the module docstring for the two ways of constructing one.
    """

    name: str
    type: type
    default: Any
    minimum: float | None
    maximum: float | None
    choices: tuple[Any, ...] | None
    doc: str
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    lower: bool = True

    def __init__(self, *args: Any, **kw: Any):
        if _named_form(args, kw):
            values = dict(zip(("name", "type", "default", "minimum", "maximum", "choices",
                               "doc", "check", "lower"), args, strict=False))
            defaults: dict[str, Any] = {"type": int, "default": None, "lower": True}
        else:  # default-first: Param(default, doc, minimum, maximum)
            values = dict(zip(("default", "doc", "minimum", "maximum"), args, strict=False))
            default = kw.get("default", values.get("default"))
            defaults = {"name": "", "type": _type_of(default), "lower": False}
        for k, v in kw.items():
            if k not in _FIELDS:
                raise TypeError(f"Param() got an unexpected keyword argument {k!r}")
            if k in values:
                raise TypeError(f"Param() got multiple values for argument {k!r}")
            values[k] = v
        for k in _FIELDS:
            object.__setattr__(self, k, values.get(k, defaults.get(k)))
        if self.doc is None:
            object.__setattr__(self, "doc", "")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        if self.name and not PARAM_PATTERN.match(self.name):
            raise ValueError(f"invalid parameter name {self.name!r}: lower-case letters, "
                             "digits and '_'")
        if self.type not in _TYPE_NAMES:
            raise ValueError(f"parameter {self.name}: type must be int, float, str, bool or "
                             "object")

    # -- description ---------------------------------------------------------------------

    @property
    def type_name(self) -> str:
        """``int``, ``float``, ``str``, ``bool`` or ``any``."""
        return _TYPE_NAMES[self.type]

    @property
    def bounds(self) -> str:
        """The bounds as text (``>= 2``, ``in [2, 100000]``, ``one of a, b``), or ``""``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"in [{_num(lo)}, {_num(hi)}]"
        if lo is not None:
            return f">= {_num(lo)}"
        if hi is not None:
            return f"<= {_num(hi)}"
        return ""

    def expected(self) -> str:
        """What a valid value looks like, e.g. ``an integer in [2, 100000]``."""
        if self.choices is not None:
            return self.bounds
        return f"{_KINDS[self.type]} {self.bounds}".strip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, type, default, minimum, maximum, choices, doc."""
        return {"name": self.name, "type": self.type_name, "default": self.default,
                "minimum": self.minimum, "maximum": self.maximum,
                "choices": list(self.choices) if self.choices is not None else None,
                "doc": self.doc}

    # -- validation ----------------------------------------------------------------------

    def coerce(self, value: Any, indicator: str = "indicator") -> Any:
        """Validate ``value`` (text is parsed) and return it typed; else raise
        :class:`InvalidParameter` naming ``indicator`` (the owner) and what is expected."""
        try:
            return self._typed(value)
        except _Refused as e:
            reason = str(e)
            expected = reason if reason not in ("type", "choices", "minimum", "maximum") \
                else self.expected()
            raise InvalidParameter(indicator, self.name, value, expected) from None

    def validate(self, check: str, name: str, value: Any) -> Any:
        """:meth:`coerce`, worded as quality checks word it (``check gaps: parameter
        gap_factor must be >= 0, not -1``); raises :class:`InvalidInput`."""
        try:
            return self._typed(value)
        except _Refused as e:
            reason = str(e)
            expected = {"type": f"a {self.type.__name__}", "choices": self.bounds,
                        "minimum": f">= {self.minimum}", "maximum": f"<= {self.maximum}"}
            raise InvalidInput(f"check {check}: parameter {name} must be "
                               f"{expected.get(reason, reason)}, not {value!r}") from None

    def token(self, value: Any) -> str:
        """The value as it appears in an indicator id."""
        if self.type is float:
            text = repr(float(value)).replace("e+", "e")
            return text[:-2] if text.endswith(".0") else text
        return str(value).lower()

    def _typed(self, value: Any) -> Any:
        v = self._parse(value)
        if v is _INVALID:
            raise _Refused("type")
        if self.choices is not None and v not in self.choices:
            raise _Refused("choices")
        if self.minimum is not None and v < self.minimum:
            raise _Refused("minimum")
        if self.maximum is not None and v > self.maximum:
            raise _Refused("maximum")
        if self.check is not None:
            problem = self.check(v)
            if problem:
                raise _Refused(problem)
        return v

    def _parse(self, value: Any) -> Any:
        if self.type is object:
            return value
        if self.type is bool:
            return value if isinstance(value, bool) else _INVALID
        if isinstance(value, bool) or value is None:
            return _INVALID
        if self.type is str:
            if not self.lower:
                return value if isinstance(value, str) else str(value)
            return value.strip().lower() if isinstance(value, str) and value.strip() \
                else _INVALID
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text) if self.type is int else float(text)
            except ValueError:
                if self.type is not int:
                    return _INVALID
                try:  # "14.0" is an integer written as a float
                    value = float(text)
                except ValueError:
                    return _INVALID
        if self.type is int:
            if isinstance(value, (float, np.floating)):
                if not math.isfinite(value) or value != int(value):
                    return _INVALID
                return int(value)
            try:
                return operator.index(value)
            except TypeError:
                return _INVALID
        try:
            f = float(value)
        except (TypeError, ValueError):
            return _INVALID
        return f if math.isfinite(f) else _INVALID


_INVALID = object()


def _named_form(args: tuple[Any, ...], kw: dict[str, Any]) -> bool:
    """True for ``Param(name, type, default, ...)``; False for ``Param(default, doc, ...)``."""
    if "name" in kw or "type" in kw:
        return True
    if not args or not isinstance(args[0], str):
        return False
    return (len(args) == 1 and "default" not in kw) or (len(args) > 1
                                                        and isinstance(args[1], type))


def _type_of(default: Any) -> type:
    for t in (bool, int, float, str):
        if isinstance(default, t):
            return t
    return object


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def as_param(value: Any) -> Param:
    """``value`` as a :class:`Param`: a Param as it is, anything else as its default."""
    return value if isinstance(value, Param) else Param(default=value)


def signature(params: Iterable[Param] | Mapping[str, Param]) -> str:
    """``name=default, ...``: a parameter list (or name -> Param) as catalogues show it."""
    named = params.items() if isinstance(params, Mapping) else ((p.name, p) for p in params)
    return ", ".join(f"{name}={p.default}" for name, p in named)


def check_values(params: Sequence[Param], given: Mapping[str, Any] | None,
                 owner: str) -> dict[str, Any]:
    """Every parameter of ``params``, validated and typed, defaults filled in, in
    declaration order; ``InvalidInput`` names unknown ones and the valid ones (``owner``
    starts the message: ``"rsi"``, ``"strategy threshold"``)."""
    given = dict(given or {})
    known = {p.name for p in params}
    unknown = [k for k in given if k not in known]
    if unknown:
        valid = ", ".join(p.name for p in params) or "none"
        raise InvalidInput(f"{owner}: unknown parameter(s) {', '.join(unknown)}; "
                           f"parameters: {valid}")
    name = owner.split(" ")[-1]
    return {p.name: p.coerce(given[p.name] if p.name in given else p.default, name)
            for p in params}
