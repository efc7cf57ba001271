"""The package and the command line start without the heavy libraries.

Each check runs in a fresh interpreter, since this test process has imported
torch already.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_rmd

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "skorch", "sklearn", "pandas")

SCRIPT = """
import contextlib, io, json, sys
{setup}
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print(json.dumps({{"heavy": heavy, "result": result}}))
"""

RUN_CLI = """
from sklearn_rmd import cli
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        status = cli.main({argv!r})
    except SystemExit as stop:
        status = stop.code
result = [status, out.getvalue(), err.getvalue()]
"""


def fresh(setup):
    """Run ``setup`` (which sets ``result``) in a new interpreter; return the
    heavy modules it imported and ``result``."""
    code = SCRIPT.format(setup=setup, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    answer = json.loads(done.stdout.splitlines()[-1])
    return answer["heavy"], answer["result"]


@pytest.mark.parametrize("argv, status, stream, expected", [
    (["--help"], 0, 1, "usage: sklearn-rmd"),
    (["--version"], 0, 1, f"sklearn-rmd {sklearn_rmd.__version__}"),
    (["detect", "--help"], 0, 1, "--label COLUMN"),
    (["demo", "--help"], 0, 1, "--noise-rate"),
    (["detect", "no-such-file.csv", "--label", "y"], 1, 2, "no-such-file.csv: no such file"),
    (["detect", "data.csv"], 2, 2, "--label"),
])
def test_cli_answers_without_heavy_imports(argv, status, stream, expected):
    heavy, (code, out, err) = fresh(RUN_CLI.format(argv=argv))
    assert code == status
    assert expected in (out, err)[stream - 1]
    assert heavy == []


def test_package_version_without_heavy_imports():
    heavy, version = fresh("import sklearn_rmd\nresult = sklearn_rmd.__version__")
    assert version == sklearn_rmd.__version__
    assert heavy == []


def test_public_names_load_on_first_use():
    heavy, names = fresh(
        "from sklearn_rmd import NoisyLabelDetector, RMDClassifier\n"
        "result = [RMDClassifier.__name__, NoisyLabelDetector.__module__]")
    assert names == ["RMDClassifier", "sklearn_rmd.detector"]
    assert "torch" in heavy


def test_unknown_public_name():
    assert {"RMDClassifier", "NoisyLabelDetector", "__version__"} <= set(dir(sklearn_rmd))
    with pytest.raises(AttributeError, match="has no attribute 'RMDClassifer'"):
        sklearn_rmd.RMDClassifer  # noqa: B018
    with pytest.raises(ImportError):
        exec("from sklearn_rmd import RMDClassifer", {})
