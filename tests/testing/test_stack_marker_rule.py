"""The rule that keeps ``pytest -m "not stack"`` the fast set: a test that uses the local stack
(directly or through another fixture) without ``@pytest.mark.stack`` fails collection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

CONFTEST = '''
import pytest
from tests.conftest import pytest_collection_modifyitems  # the project's rule, unchanged

@pytest.fixture(scope="session")
def seeded_env():
    return "a stand-in: the rule looks at fixture names, not at what they start"

@pytest.fixture
def through_another_fixture(seeded_env):
    return seeded_env
'''

TESTS = '''
import pytest

def test_pure():
    pass

@pytest.mark.stack
def test_marked(seeded_env):
    pass

def test_unmarked_direct(seeded_env):
    pass

def test_unmarked_indirect(through_another_fixture):
    pass
'''


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    (folder / "pytest.ini").write_text('[pytest]\nmarkers =\n    stack: needs the local stack\n')
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def test_an_unmarked_test_using_a_stack_fixture_fails_collection_naming_it(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_example.py").write_text(TESTS)

    proc = run_pytest(tmp_path, "-m", "not stack")

    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "not marked @pytest.mark.stack" in out
    assert "test_example.py::test_unmarked_direct" in out and "test_example.py::test_unmarked_indirect" in out
    assert "test_example.py::test_marked" not in out.split("not marked")[1]


def test_marked_stack_tests_collect_and_not_stack_deselects_them(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_example.py").write_text(TESTS.split("def test_unmarked_direct")[0])

    proc = run_pytest(tmp_path, "-m", "not stack")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 deselected" in proc.stdout
