"""pytest plugin (entry point ``pytest11``): ``pytest --crs-spec path/to/spec.yaml``.

Runs the whole invariant suite (:mod:`crs_model.testing.suite`) on an app's own
spec, next to the tests pytest runs anyway (the paths given, else ``testpaths``
or the current directory), as pytest users expect from a plugin option.
``--crs-profile dev|ci|thorough`` picks the Hypothesis budget (default ``ci``).
Without ``--crs-spec`` the plugin only provides the ``crs_spec`` fixture (the
bundled spec) and imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crs_model.model import Spec

_SPECS: dict[str, Spec] = {}
# The suite's tests are collected from this path; the suite imports this plugin, never the reverse.
SUITE = Path(__file__).resolve().with_name("suite.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--crs-spec`` and ``--crs-profile`` to pytest."""
    group = parser.getgroup("crs_model", "crs_model invariant suite")
    group.addoption(
        "--crs-spec",
        action="store",
        default=None,
        metavar="SPEC",
        help="run the crs_model invariant suite (fuzzing, metamorphic relations, care courses) on this spec",
    )
    group.addoption(
        "--crs-profile",
        action="store",
        default=None,
        choices=("dev", "ci", "thorough"),
        help="Hypothesis profile for the crs_model suite (default: ci)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """With ``--crs-spec`` or ``--crs-profile``, load the Hypothesis profile and collect the suite."""
    spec = config.getoption("crs_spec", default=None)
    profile = config.getoption("crs_profile", default=None)
    if spec is None and profile is None:
        return
    from hypothesis import settings

    from crs_model.testing._profiles import register_profiles

    register_profiles()
    settings.load_profile(profile or "ci")
    if spec is not None:
        if not Path(spec).is_file():
            raise pytest.UsageError(f"--crs-spec: no such file: {spec}")
        # next to whatever pytest would run anyway: the paths given, else testpaths or the current directory
        config.args.append(str(SUITE))


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say what ``--crs-spec`` adds to the run, so nobody wonders where the extra tests come from."""
    spec = config.getoption("crs_spec", default=None)
    if spec is None:
        return None
    profile = config.getoption("crs_profile", default=None) or "ci"
    return f"crs_model: invariant suite on {spec} (profile {profile}), run next to this project's own tests"


def spec_from_config(config: pytest.Config) -> Spec:
    """The spec under test: ``--crs-spec`` or the bundled spec (loaded once per path)."""
    import crs_model

    path = config.getoption("crs_spec", default=None)
    key = str(path) if path is not None else ""
    if key not in _SPECS:
        _SPECS[key] = crs_model.load_spec(path)
    return _SPECS[key]


@pytest.fixture(scope="session")
def crs_spec(request: pytest.FixtureRequest) -> Spec:
    """The spec under test (``--crs-spec``; default the bundled spec)."""
    return spec_from_config(request.config)
