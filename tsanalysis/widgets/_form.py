"""A form generated from declared parameters: one field per parameter, checked as typed.

Indicators, quality checks and export formats all declare their parameters as
:class:`tsanalysis.params.Param` s; :class:`ParamForm` is the one mapping from a Param to a
widget (IntText, FloatText, Checkbox, Text; a Dropdown when it has ``choices``). Each value
is checked by the feature's own validation (``Param.coerce`` by default, or the ``check``
a panel gives), so the form refuses exactly what the core would refuse and shows the core's
message (which names the bound) next to the field. A form with an error is not
:attr:`ParamForm.valid`; panels keep their action button disabled meanwhile, and their
actions call :meth:`ParamForm.values`, which raises, because ``Button.click()`` from code
ignores ``disabled``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from ..errors import InvalidInput, TsanalysisError
from ..params import Param
from ._base import esc


def _initial(field: Param, w: widgets.ValueWidget) -> Any:
    """The value widget ``w`` of ``field`` starts with."""
    if isinstance(w, widgets.Dropdown):
        options = list(field.choices or ())
        return field.default if field.default in options else (options[0] if options else None)
    if isinstance(w, widgets.Checkbox):
        return bool(field.default)
    if isinstance(w, widgets.Text):
        return "" if field.default is None else str(field.default)
    return field.default


def _widget(name: str, field: Param) -> widgets.ValueWidget:
    """The one mapping from a declared parameter to its input widget."""
    common = {"description": name, "tooltip": field.doc or None,
              "style": {"description_width": "11em"},
              "layout": widgets.Layout(width="22em")}
    if field.choices is not None:
        options = list(field.choices)
        value = field.default if field.default in options else (options[0] if options else None)
        return widgets.Dropdown(options=options, value=value, **common)
    if field.type is bool:
        return widgets.Checkbox(value=bool(field.default), indent=False,
                                description=name, tooltip=field.doc or None)
    if field.type is int and isinstance(field.default, int):
        return widgets.IntText(value=field.default, **common)
    if field.type is float and isinstance(field.default, (int, float)) \
            and math.isfinite(field.default):
        return widgets.FloatText(value=float(field.default), **common)
    # text, or a number without a usable default: typed as text, parsed by `check`
    return widgets.Text(value="" if field.default is None else str(field.default), **common)


class ParamForm:
    """Widgets for declared :class:`~tsanalysis.params.Param` s, validated on every change.

    ``params`` is a sequence of named Params (an indicator's) or a mapping name -> Param
    (a check's, an export format's). ``check(name, value)`` returns the value the core
    will use or raises :class:`~tsanalysis.errors.InvalidInput` with the message to show;
    by default the Param's own :meth:`~tsanalysis.params.Param.coerce`, naming ``owner``.
    ``check_all(values)``, if given, validates the parameters together (e.g. a fast period
    below the slow one) once each is valid. ``on_change()`` is called after every change,
    when :attr:`valid` may have changed.

    >>> form = ParamForm([Param("window", int, 31, minimum=3)], owner="mine")
    >>> form.set(window=1); form.valid, form.errors
    (False, {'window': 'mine: parameter window must be an integer >= 3, got 1'})
    """

    def __init__(self, params: Sequence[Param] | Mapping[str, Param], *,
                 check: Callable[[str, Any], Any] | None = None, owner: str = "parameter",
                 check_all: Callable[[dict[str, Any]], Any] | None = None,
                 on_change: Callable[[], None] | None = None):
        #: The declared parameters, by name (``fields[name].bounds``: the bounds as text).
        self.fields: dict[str, Param] = dict(params) if isinstance(params, Mapping) \
            else {p.name: p for p in params}
        self._check = check if check is not None else \
            (lambda name, value: self.fields[name].coerce(value, owner))
        self._check_all = check_all
        self._on_change = on_change
        self._errors: dict[str, str] = {}
        self._form_error = ""
        #: The input widget of each field, by parameter name.
        self.inputs: dict[str, widgets.ValueWidget] = {}
        self._messages: dict[str, widgets.HTML] = {}
        rows: list[widgets.Widget] = []
        for name, f in self.fields.items():
            w = _widget(name, f)
            w.add_class(f"tsanalysis-param-{name}")
            self.inputs[name] = w
            msg = widgets.HTML()
            msg.add_class("tsanalysis-param-error")
            self._messages[name] = msg
            hint = " · ".join(x for x in (esc(f.doc), esc(f.bounds)) if x)
            help_ = widgets.HTML(f'<span style="color:#6b7280;font-size:11px">{hint}</span>')
            rows.append(widgets.HBox([w, msg, help_]))
            w.observe(lambda _c: self._changed(), names="value")
        self._form_message = widgets.HTML()
        self._form_message.add_class("tsanalysis-form-error")
        if not self.fields:
            rows.append(widgets.HTML("<i>No parameters.</i>"))
        self.widget = widgets.VBox([*rows, self._form_message])
        self.widget.add_class("tsanalysis-param-form")
        self._validate()

    # -- state ---------------------------------------------------------------------------

    @property
    def errors(self) -> dict[str, str]:
        """Messages of the fields that are invalid now, by name (``"*"``: the whole form)."""
        out = dict(self._errors)
        if self._form_error:
            out["*"] = self._form_error
        return out

    @property
    def valid(self) -> bool:
        return not self._errors and not self._form_error

    def raw(self) -> dict[str, Any]:
        """The values as typed (before checking)."""
        return {name: w.value for name, w in self.inputs.items()}

    def values(self) -> dict[str, Any]:
        """The checked values; raises :class:`InvalidInput` with the first error."""
        self._validate()
        if self._errors:
            raise InvalidInput(next(iter(self._errors.values())))
        if self._form_error:
            raise InvalidInput(self._form_error)
        return self._checked

    def set(self, **values: Any) -> None:
        """Set fields by name (as a user typing them would)."""
        unknown = [k for k in values if k not in self.inputs]
        if unknown:
            raise KeyError(f"no field {unknown[0]!r}; fields: {', '.join(self.inputs)}")
        for name, value in values.items():
            w = self.inputs[name]
            w.value = value if not isinstance(w, widgets.Text) else str(value)

    def reset(self) -> None:
        """Every field back to its default."""
        for name, f in self.fields.items():
            w = self.inputs[name]
            w.value = _initial(f, w)

    # -- internals -----------------------------------------------------------------------

    def _changed(self) -> None:
        self._validate()
        if self._on_change is not None:
            self._on_change()

    def _validate(self) -> None:
        checked: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, f in self.fields.items():
            value = self.inputs[name].value
            if isinstance(self.inputs[name], widgets.Text) and f.type is not str:
                value = value.strip() or None
            try:
                checked[name] = self._check(name, value)
            except TsanalysisError as e:
                errors[name] = str(e)
        self._form_error = ""
        if not errors and self._check_all is not None:
            try:
                self._check_all(dict(checked))
            except TsanalysisError as e:
                self._form_error = str(e)
        self._errors, self._checked = errors, checked
        for name, msg in self._messages.items():
            text = errors.get(name, "")
            msg.value = f'<span style="color:#cf222e">{esc(text)}</span>' if text else ""
        self._form_message.value = (f'<span style="color:#cf222e">{esc(self._form_error)}'
                                    "</span>" if self._form_error else "")
