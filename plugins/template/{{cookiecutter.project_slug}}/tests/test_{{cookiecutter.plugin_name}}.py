from tsanalysis.testing import check_indicator, check_strategy


def test_range_pct(tsanalysis_demo):
    check_indicator(tsanalysis_demo, "{{ cookiecutter.plugin_name }}.range_pct", {"timeperiod": 5}, interval="1m")


def test_range_pct_on_ticks(tsanalysis_demo):
    res = check_indicator(tsanalysis_demo, "{{ cookiecutter.plugin_name }}.range_pct")
    assert (res.frame["real"].dropna() == 0).all()  # a tick has no range


def test_above_ema(tsanalysis_demo):
    res = check_strategy(tsanalysis_demo, "{{ cookiecutter.plugin_name }}.above_ema", {"timeperiod": 20}, fee_bps=5)
    assert (res.trades["side"] == "long").all()
