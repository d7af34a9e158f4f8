"""``make package``: ``dist/`` with the code-location wheel and the persister's Lambda zip.

:func:`build_package` ``(out_dir) -> Package(wheel, lambda_zip, lambda_sha256)`` is the API
(``metricdag deploy`` uploads ``Package.lambda_zip``). The zip is what AWS Lambda expects of a
Python function: ``lambda_function.py`` at its root (handler ``lambda_function.handler``,
delegating to :func:`metricdag.persistence.handler.handler`), the ``metricdag`` package, the
environment files the handler resolves (``pipeline-configs/environments/``, ``events.yaml``), and
every distribution the handler imports with their requirements, copied from this virtualenv (no
network, no resolver). The handler must not import Dagster: packaging fails if it does.

The zip is deterministic — entries sorted, fixed timestamps and permissions — so the same inputs
give the same bytes and digest, and a deploy can skip an unchanged function. Beside it,
``<zip>.json`` records its sha256 and a fingerprint of its inputs (paths, sizes, modification
times), which :func:`ensure_lambda_zip` compares to rebuild only a missing or stale zip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from metricdag.errors import MetricdagError

LAMBDA_ZIP = "metricdag-persister-lambda.zip"
LAMBDA_HANDLER = "lambda_function.handler"
HANDLER_SOURCE = '''"""AWS Lambda entry point of the metricdag persister (built by `make package`)."""

from metricdag.persistence.handler import handler as _persist


def handler(event, context):
    return _persist(event, context)
'''
# What the handler imports when it runs (module level and inside its functions); the closure of
# their distributions' requirements is packaged with it.
HANDLER_IMPORTS = (
    "metricdag.persistence.handler",
    "metricdag.persistence.publish",
    "metricdag.events.sources",
    "metricdag.events.models",
    "metricdag.yamlio",
    "metricdag.aws",
    "boto3",
    "snowflake.connector",
    "pyarrow.parquet",
    "pyarrow.compute",
)
FORBIDDEN = ("dagster",)  # the handler runs without the orchestrator
# Imported only because they are installed: snowflake.connector and pyarrow try them, and load
# Parquet facts and COPY results without them (the e2e test runs the zip without them).
OPTIONAL = ("pandas", "numpy")
CONFIG_FILES = ("pipeline-configs/environments/*.yaml", "pipeline-configs/events.yaml")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Parts of distributions the persister never loads, left out so the unpacked function stays under
# Lambda's 250 MB: pyarrow's C++ headers, Cython sources, tests and Arrow Flight (nothing else
# links it; checked with ldd).
PRUNED = re.compile(
    r"^pyarrow/(include/|tests/|.*\.(pyx|pxd|pxi)$|libarrow_flight|libarrow_python_flight|_flight|flight\.py|"
    r"_pyarrow_cpp_tests)"
)
SKIP_PARTS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo")


class PackagingError(MetricdagError):
    pass


@dataclass(frozen=True)
class Package:
    wheel: Path
    lambda_zip: Path
    lambda_sha256: str


@dataclass(frozen=True)
class LambdaZip:
    path: Path
    sha256: str
    built: bool  # False: the zip was up to date and left as it was


def project_root() -> Path:
    from metricdag.settings import find_project_root

    return find_project_root()


def build_package(out_dir: Path | str | None = None, root: Path | None = None) -> Package:
    """Build the wheel and the Lambda zip into ``out_dir`` (default ``<project>/dist``)."""
    root = root or project_root()
    out = Path(out_dir) if out_dir is not None else root / "dist"
    wheel = build_wheel(out, root)
    zipped = ensure_lambda_zip(out, root)
    return Package(wheel, zipped.path, zipped.sha256)


def build_wheel(out: Path, root: Path) -> Path:
    """The project's wheel (``pip wheel --no-deps``, no build isolation: offline), replacing older ones."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("metricdag-*.whl"):
        old.unlink()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(root)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise PackagingError(f"building the metricdag wheel failed:\n{done.stderr[-3000:]}")
    (wheel,) = out.glob("metricdag-*.whl")
    return wheel


# ------------------------------------------------------------------------ what goes in the zip


def handler_distributions() -> list[metadata.Distribution]:
    """The installed distributions the handler imports, and everything they require. A module is
    traced to the distribution that installed its file (``snowflake.connector`` is
    snowflake-connector-python, not every distribution sharing the ``snowflake`` namespace)."""
    probe = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"  # what the interpreter and .pth files imported: not the handler's
        f"for m in {list(HANDLER_IMPORTS)!r}: importlib.import_module(m)\n"
        "import os\n"
        "files = {n: os.path.realpath(m.__file__) for n, m in list(sys.modules.items())\n"
        "         if n not in before and getattr(m, '__file__', None)}\n"
        "print(json.dumps(sorted(files.items())))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        raise PackagingError(f"importing the persister handler failed:\n{done.stderr[-3000:]}")
    modules = dict(json.loads(done.stdout.splitlines()[-1]))
    forbidden = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in FORBIDDEN})
    if forbidden:
        raise PackagingError(
            f"the persister handler imports {', '.join(forbidden)} (through one of {', '.join(HANDLER_IMPORTS)}): "
            "cut that import; the Lambda must not carry the orchestrator"
        )
    owner = _file_owners()
    names = {owner[f] for f in modules.values() if f in owner} - set(OPTIONAL)
    names.discard("metricdag")  # packaged from its source tree
    return _closure(names)


def _file_owners() -> dict[str, str]:
    """Absolute file path -> canonical name of the distribution whose RECORD lists it."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"])
        for f in dist.files or ():
            if f.suffix in (".py", ".so") or f.name == "__init__.py":
                out[str(Path(dist.locate_file(f)).resolve())] = name
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: set[str]) -> list[metadata.Distribution]:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = default_environment()
    found: dict[str, metadata.Distribution] = {}
    pending = sorted(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PackagingError(f"the persister needs {name}, which is not installed in {sys.prefix}") from None
        found[name] = dist
        for raw in dist.requires or ():
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            if _canonical(req.name) not in OPTIONAL:
                pending.append(_canonical(req.name))
    bad = sorted(n for n in found if n.split("-")[0] in FORBIDDEN)
    if bad:
        raise PackagingError(f"the persister's requirements pull in {', '.join(bad)}")
    return [found[n] for n in sorted(found)]


def zip_entries(root: Path) -> dict[str, Path]:
    """Archive name -> file, for every file of the zip but ``lambda_function.py``."""
    entries: dict[str, Path] = {}
    for dist in handler_distributions():
        base = Path(dist.locate_file(""))
        for f in dist.files or ():
            arc = f.as_posix()
            if arc.startswith("..") or _skipped(arc):
                continue
            path = base / f
            if path.is_file():
                entries[arc] = path
    package = Path(__import__("metricdag").__file__).parent
    for path in package.rglob("*"):
        arc = "metricdag/" + path.relative_to(package).as_posix()
        if path.is_file() and not _skipped(arc):
            entries[arc] = path
    for pattern in CONFIG_FILES:
        for path in sorted(root.glob(pattern)):
            entries[path.relative_to(root).as_posix()] = path
    return entries


def _skipped(arc: str) -> bool:
    parts = arc.split("/")
    return (bool(SKIP_PARTS.intersection(parts)) or arc.endswith(SKIP_SUFFIXES) or parts[-1] == "RECORD"
            or PRUNED.match(arc) is not None)


def inputs_fingerprint(entries: dict[str, Path]) -> str:
    h = hashlib.sha256(HANDLER_SOURCE.encode())
    for arc, path in sorted(entries.items()):
        st = path.stat()
        h.update(f"{arc}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def write_zip(target: Path, entries: dict[str, Path]) -> str:
    """Write the zip deterministically (atomic rename); returns its sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    files = {"lambda_function.py": HANDLER_SOURCE.encode(), **{a: p for a, p in entries.items()}}
    with zipfile.ZipFile(tmp, "w") as zf:
        for arc in sorted(files):
            source = files[arc]
            data = source if isinstance(source, bytes) else source.read_bytes()
            mode = 0o755 if not isinstance(source, bytes) and os.access(source, os.X_OK) else 0o644
            info = zipfile.ZipInfo(arc, date_time=ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=6)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(target)
    return digest


def ensure_lambda_zip(out: Path | None = None, root: Path | None = None) -> LambdaZip:
    """``<out>/metricdag-persister-lambda.zip``, rebuilt only when missing or its inputs changed."""
    root = root or project_root()
    out = out or root / "dist"
    target = out / LAMBDA_ZIP
    sidecar = target.with_name(target.name + ".json")
    entries = zip_entries(root)
    fingerprint = inputs_fingerprint(entries)
    if target.is_file() and sidecar.is_file():
        recorded = json.loads(sidecar.read_text())
        if recorded.get("inputs") == fingerprint and recorded.get("size") == target.stat().st_size:
            return LambdaZip(target, recorded["sha256"], built=False)
    digest = write_zip(target, entries)
    sidecar.write_text(json.dumps(
        {"sha256": digest, "size": target.stat().st_size, "inputs": fingerprint, "handler": LAMBDA_HANDLER}, indent=2
    ) + "\n")
    return LambdaZip(target, digest, built=True)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m metricdag.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="output folder (default: <project>/dist)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        package = build_package(args.out)
    except MetricdagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = package.lambda_zip.stat().st_size / 1e6
    print(f"wheel:      {package.wheel}")
    print(f"lambda zip: {package.lambda_zip} ({size:.1f} MB, sha256 {package.lambda_sha256}, "
          f"handler {LAMBDA_HANDLER})")
    print(f"took {time.monotonic() - started:.1f} s")
    return 0
