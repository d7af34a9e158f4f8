"""The persister's Lambda zip: what it carries (the handler's import closure, no Dagster, no
pandas) and that the same inputs give the same bytes, rebuilt only when an input changes."""

from __future__ import annotations

import hashlib
import os
import zipfile

from metricdag import packaging


def test_the_zip_is_the_same_bytes_for_the_same_inputs(tmp_path):
    files = {}
    for name in ("b.py", "a/x.py", "a/lib.so"):
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")
        files[name] = path
    os.chmod(files["a/lib.so"], 0o755)
    first = packaging.write_zip(tmp_path / "one.zip", files)
    for path in files.values():  # other modification times, another order: same zip
        os.utime(path, (1_000_000, 1_000_000))
    second = packaging.write_zip(tmp_path / "two.zip", dict(reversed(list(files.items()))))
    assert first == second == hashlib.sha256((tmp_path / "one.zip").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        assert zf.namelist() == ["a/lib.so", "a/x.py", "b.py", "lambda_function.py"]
        assert (zf.getinfo("a/lib.so").external_attr >> 16) & 0o777 == 0o755
        assert "metricdag.persistence.handler" in zf.read("lambda_function.py").decode()


def test_a_zip_is_rebuilt_only_when_an_input_changed(tmp_path, monkeypatch):
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    monkeypatch.setattr(packaging, "zip_entries", lambda root: {"module.py": source})
    assert packaging.ensure_lambda_zip(tmp_path / "dist", tmp_path).built
    again = packaging.ensure_lambda_zip(tmp_path / "dist", tmp_path)
    assert not again.built
    source.write_text("x = 2\n")
    changed = packaging.ensure_lambda_zip(tmp_path / "dist", tmp_path)
    assert changed.built and changed.sha256 != again.sha256


def test_the_handler_carries_its_imports_and_not_the_orchestrator():
    names = {d.metadata["Name"].lower().replace("_", "-") for d in packaging.handler_distributions()}
    assert {"boto3", "snowflake-connector-python", "pyarrow", "pydantic", "sqlalchemy"} <= names
    assert not {n for n in names if n.startswith("dagster")}
    assert "pandas" not in names and "numpy" not in names
