"""The one parameter type (tsanalysis.params.Param): both ways of writing it, one validation,
and one mapping to form widgets for indicators, quality checks and export formats."""

from __future__ import annotations

import dataclasses

import ipywidgets as widgets
import pytest

import tsanalysis.indicators as indicators
import tsanalysis.indicators.base as indicators_base
import tsanalysis.quality as quality
import tsanalysis.quality.checks as quality_checks
from tsanalysis.errors import InvalidInput
from tsanalysis.export import Exporter
from tsanalysis.params import InvalidParameter, Param
from tsanalysis.quality import QualityCheck
from tsanalysis.widgets._form import ParamForm


def test_one_type_importable_where_it_was():
    assert indicators.Param is indicators_base.Param is quality.Param is quality_checks.Param \
        is Param
    assert indicators.InvalidParameter is InvalidParameter


def test_named_form_as_indicators_write_it():
    p = Param("timeperiod", int, 14, minimum=2, maximum=100_000, doc="bars")
    assert (p.name, p.type, p.default, p.minimum, p.maximum, p.doc, p.lower) == \
        ("timeperiod", int, 14, 2, 100_000, "bars", True)
    assert Param("p").type is int and Param("p").default is None
    assert Param("anchor", str, "1d", None, None, ("1d", "8h"), "doc").choices == ("1d", "8h")
    assert Param("x", float, 1.0) == Param("x", float, 1.0, check=lambda v: None)  # check: no
    assert dataclasses.replace(p, default=21).default == 21
    with pytest.raises(ValueError):
        Param("Bad")
    with pytest.raises(ValueError):
        Param("p", type=list)
    with pytest.raises(TypeError, match="multiple values"):
        Param("p", int, name="q")


def test_default_first_form_as_quality_checks_write_it():
    p = Param(2, "grid decimals", minimum=0)
    assert (p.name, p.type, p.default, p.doc, p.minimum, p.lower) == \
        ("", int, 2, "grid decimals", 0, False)
    assert Param(5.0).type is float and Param(True).type is bool
    assert Param(default="snappy").type is str and Param("snappy", "codec").doc == "codec"
    assert Param(None).type is object and Param(default=[1]).type is object


def test_one_validation_two_wordings():
    p = Param("window", int, 31, minimum=3)
    assert p.coerce("14.0") == 14 and p.validate("prices", "window", 7.0) == 7
    with pytest.raises(InvalidParameter, match=r"^mine: parameter window must be an integer "
                                               r">= 3, got 1$"):
        p.coerce(1, "mine")
    with pytest.raises(InvalidInput, match=r"^check prices: parameter window must be >= 3, "
                                           r"not 1$"):
        p.validate("prices", "window", 1)
    with pytest.raises(InvalidInput, match="must be a float, not 'x'"):
        Param(1.5).validate("c", "f", "x")
    with pytest.raises(InvalidInput, match="must be a bool"):
        Param(True).validate("c", "b", 1)
    assert Param("k", str, "1d").coerce(" 8H ") == "8h"  # indicator text: an id token
    assert Param(default="Tab").validate("c", "k", " As Given ") == " As Given "
    assert Param("m", int, 0, choices=(0, 1)).bounds == "one of 0, 1"
    assert Param("f", float, 2.0, minimum=0.5, maximum=4.0).expected() == "a number in [0.5, 4]"


def test_checks_and_exporters_normalise_their_declarations_to_params():
    check = QualityCheck(name="t.c", run=lambda ctx: [], params={"a": 1, "b": Param(2.0, "b")})
    assert all(isinstance(p, Param) for p in check.params.values())
    assert check.defaults == {"a": 1, "b": 2.0} and check.resolve({"a": "3"}) == {"a": 3, "b": 2.0}
    exp = Exporter(name="t.x", suffix=".x", writer=lambda f, s, o: None,
                   options={"sep": ",", "codec": Param("zstd", "the codec",
                                                       choices=("zstd", "none"))})
    assert exp.options == {"sep": ",", "codec": "zstd"}  # defaults, as writers get them
    assert exp.params["codec"].choices == ("zstd", "none") and exp.params["sep"].type is str


def test_one_mapping_to_widgets():
    form = ParamForm([Param("n", int, 3, minimum=1), Param("x", float, 0.5),
                      Param("flag", bool, True), Param("mode", str, "a", choices=("a", "b")),
                      Param("text", str, "t"), Param("any", object, None)], owner="t")
    kinds = {name: type(w) for name, w in form.inputs.items()}
    assert kinds == {"n": widgets.IntText, "x": widgets.FloatText, "flag": widgets.Checkbox,
                     "mode": widgets.Dropdown, "text": widgets.Text, "any": widgets.Text}
    assert form.valid and form.values()["n"] == 3
    form.set(n=0)
    assert form.errors == {"n": "t: parameter n must be an integer >= 1, got 0"}
    form.reset()
    assert form.valid
    # a mapping (a check's, an exporter's): names from the keys, the caller's check
    form = ParamForm({"decimals": Param(2, "grid", minimum=0)},
                     check=lambda name, v: Param(2, minimum=0).validate("grid", name, v))
    form.set(decimals=-1)
    assert form.errors == {"decimals": "check grid: parameter decimals must be >= 0, not -1"}
    assert form.fields["decimals"].bounds == ">= 0"
