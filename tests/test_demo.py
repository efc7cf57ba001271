"""The digits demo: every stage announced, its numbers returned."""

import pytest

from sklearn_rmd import demo


def test_quick_demo_announces_each_stage_and_returns_its_numbers(capsys):
    results = demo.main(["--quick", "--noise-rate", "0.3", "--seed", "1"])
    out = capsys.readouterr().out
    assert [line[:5] for line in out.splitlines() if line.startswith("[")] == \
        [f"[{i}/5]" for i in range(1, 6)]
    reference = results[demo.REFERENCE][0]
    assert f"gap to the {demo.REFERENCE} ({reference:.3f})" in out
    for name in (demo.PLAIN, demo.RMD, demo.CLEANED):
        accuracy, seconds = results[name]
        assert 0 <= accuracy <= 1 and seconds > 0
        assert f"{name:<48} {accuracy:.3f} ({100 * (accuracy - reference):+.1f}" in out
    detection = results[demo.DETECTION]
    assert detection["n_true"] == round(0.3 * 1257)
    assert 0 <= detection["f1"] <= 1 and 0 <= detection["noise_rate"] <= 1
    assert f"against the {detection['n_true']} flipped" in out


def test_demo_refuses_a_bad_noise_rate(capsys):
    with pytest.raises(SystemExit) as stop:
        demo.main(["--noise-rate", "1.5"])
    assert stop.value.code == 2
    assert "--noise-rate must be in [0, 1)" in capsys.readouterr().err
