"""Compile a JVM node's sources once: a cache of class folders keyed by what went into them.

Cache layout (``METRICDAG_JVM_CACHE``, default ``<project>/.local/jvm-cache``)::

    <cache>/<key>/classes/...       the compiled classes
    <cache>/<key>/build.json        language, compiler version, sources with their sha256, seconds

``key`` is the sha256 of the language, the compiler's version line and every source file
(path relative to the source folder, and content), and of the node library's key. An unchanged
node on an unchanged compiler is never recompiled.

The node library (``metricdag.node``: Dagster Pipes, the columnar input reader, the CSV output
writer, the command line; Java sources under ``jvm_lib/``) is built the same way, once per cache,
and is on the classpath of every node's compiler and run. A build is made in a temporary folder inside the cache and renamed into
place whole, so concurrent steps never see half a build (the loser of a race discards its copy).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from metricdag.nodes.errors import NodeError
from metricdag.spec.models import SOURCE_SUFFIX

CACHE_FORMAT = "2"  # bump when compiler flags or the layout change: every node then rebuilds once
MANIFEST = "build.json"
COMPILE_TIMEOUT_S = 600
MAX_REPORTED_LINES = 60
LIBRARY_DIR = Path(__file__).resolve().parent / "jvm_lib"
LIBRARY_NAME = "metricdag.node library"

COMPILER = {"java": "javac", "scala": "scalac"}
COMPILER_FLAGS = {"java": ["-encoding", "UTF-8", "-g"], "scala": ["-encoding", "UTF-8"]}
INSTALL_HINT = {
    "java": "install a JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)",
    "scala": "install Scala 2.11 or newer (Debian/Ubuntu: apt-get install scala; `make run` and `make test` do it as root), "
    "or set SCALA_HOME",
}
DIAGNOSTIC_RE = re.compile(r"^(?P<file>\S[^:]*\.(?:java|scala)):(?P<line>\d+): (?P<kind>error|warning): (?P<message>.*)$")


@dataclass(frozen=True)
class Toolchain:
    """The programs that build and run nodes of one JVM language on this machine."""

    language: str
    compiler: str
    compiler_version: str
    java: str
    runtime_classpath: tuple[str, ...] = ()  # what every run needs besides the classes (scala-library.jar)


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Build:
    key: str
    classes: Path
    compiled: bool  # False when the classes came from the cache
    seconds: float
    classpath: tuple[Path, ...] = ()  # what the classes were compiled against (the node library)


# ------------------------------------------------------------------ toolchain


def default_cache_dir(start: Path | None = None) -> Path:
    if configured := os.environ.get("METRICDAG_JVM_CACHE"):
        return Path(configured)
    from metricdag.settings import find_project_root

    return find_project_root(start) / ".local" / "jvm-cache"


@functools.cache
def toolchain(language: str) -> Toolchain:
    """Find the compiler, its version and ``java``; a NodeError says what to install if one is missing."""
    compiler = _which(COMPILER[language], language)
    java = _which("java", "java")
    version = _version_line(compiler)
    classpath: tuple[str, ...] = ()
    if language == "scala":
        classpath = (str(scala_library(compiler)),)
    return Toolchain(language, compiler, version, java, classpath)


def _which(program: str, language: str) -> str:
    if language == "scala" and program == "scalac" and (home := os.environ.get("SCALA_HOME")):
        candidate = Path(home) / "bin" / "scalac"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(program)
    if found is None:
        raise NodeError(f"{program} not found on PATH: {INSTALL_HINT[language]}")
    return found


def _version_line(compiler: str) -> str:
    try:
        done = subprocess.run(
            [compiler, "-version"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NodeError(f"cannot run {compiler} -version: {exc}") from None
    text = (done.stdout + done.stderr).strip()  # javac prints to stdout, scalac to stderr
    if done.returncode != 0 or not text:
        raise NodeError(f"{compiler} -version failed (exit {done.returncode}): {text}")
    return text.splitlines()[0].split(" -- ")[0].strip()


def scala_library(scalac: str) -> Path:
    """scala-library.jar of the installation that ``scalac`` belongs to."""
    homes = [Path(os.environ["SCALA_HOME"])] if os.environ.get("SCALA_HOME") else []
    homes.append(Path(scalac).resolve().parent.parent)  # <home>/bin/scalac
    for home in homes:
        jar = home / "lib" / "scala-library.jar"
        if jar.is_file():
            return jar
    raise NodeError(f"scala-library.jar not found under {', '.join(map(str, homes))}: {INSTALL_HINT['scala']}")


# ------------------------------------------------------------------ sources and keys


def source_files(source_dir: Path, language: str) -> list[Path]:
    """Every source file of the language under ``source_dir``, in a stable order."""
    suffix = SOURCE_SUFFIX[language]
    return sorted(p for p in source_dir.rglob(f"*{suffix}") if p.is_file())


def sources_digest(source_dir: Path, files: list[Path]) -> str:
    """sha256 (hex) over each file's path (relative to ``source_dir``) and content."""
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def cache_key(language: str, compiler_version: str, source_dir: Path, files: list[Path], depends_on: str = "") -> str:
    """What a build depends on: the sources, the language, the compiler's version and the key of
    the build it is compiled against (``depends_on``)."""
    parts = [f"metricdag-jvm-cache/{CACHE_FORMAT}", language, compiler_version, sources_digest(source_dir, files),
             depends_on]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# ------------------------------------------------------------------ compiling


def parse_diagnostics(output: str) -> list[Diagnostic]:
    """``file:line: error|warning: message`` lines, as javac and scalac print them."""
    found = []
    for line in output.splitlines():
        if m := DIAGNOSTIC_RE.match(line.strip()):
            found.append(Diagnostic(m["file"], int(m["line"]), m["kind"], m["message"]))
    return found


def compile_failure_message(node: str, tc: Toolchain, source_dir: str, output: str) -> str:
    errors = [d for d in parse_diagnostics(output) if d.kind == "error"]
    lines = output.strip().splitlines()
    shown = lines[:MAX_REPORTED_LINES] + ([f"... ({len(lines) - MAX_REPORTED_LINES} more lines)"] if len(lines) > MAX_REPORTED_LINES else [])
    head = f"node {node!r}: {tc.compiler_version} could not compile {source_dir}"
    if errors:
        head += f" ({len(errors)} error(s); first at {errors[0].file}:{errors[0].line}: {errors[0].message})"
    return head + ":\n" + "\n".join("  " + line for line in shown)


def ensure_library(cache_root: Path) -> Build:
    """The node library's classes (Java, compiled once per cache and compiler)."""
    return _ensure_built(LIBRARY_NAME, LIBRARY_DIR, "java", cache_root, None, None)


def ensure_compiled(node: str, source_dir: Path, language: str, cache_root: Path, display_root: Path | None = None) -> Build:
    """The node's classes from the cache, compiling them (against the node library) first on a miss.

    Compiler messages name files relative to ``display_root`` (the metric folder) when the
    sources are inside it.
    """
    return _ensure_built(node, source_dir, language, cache_root, display_root, ensure_library(cache_root))


def _ensure_built(
    node: str, source_dir: Path, language: str, cache_root: Path, display_root: Path | None, library: Build | None
) -> Build:
    tc = toolchain(language)
    files = source_files(source_dir, language)
    if not files:
        raise NodeError(f"node {node!r}: no {SOURCE_SUFFIX[language]} files under {source_dir}")
    classpath = (library.classes, *library.classpath) if library else ()
    key = cache_key(language, tc.compiler_version, source_dir, files, library.key if library else "")
    final = cache_root / key
    if (final / MANIFEST).is_file():
        return Build(key, final / "classes", compiled=False, seconds=0.0, classpath=classpath)

    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key[:12]}-", dir=cache_root))
    try:
        classes = work / "classes"
        classes.mkdir()
        cwd, shown = _display(source_dir, files, display_root)
        started = time.monotonic()
        output, code = run_compiler(tc, [str(p) for p in shown], classes, cwd, classpath)
        seconds = time.monotonic() - started
        if code != 0:
            raise NodeError(compile_failure_message(node, tc, _relative(source_dir, display_root), output))
        manifest = {
            "language": language,
            "compiler": tc.compiler,
            "compiler_version": tc.compiler_version,
            "source_dir": str(source_dir),
            "sources": {p.relative_to(source_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
            "compiled_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(seconds, 3),
            "compiler_output": output.strip(),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / MANIFEST).is_file():  # not a lost race: a real problem
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Build(key, final / "classes", compiled=True, seconds=seconds, classpath=classpath)


def run_compiler(
    tc: Toolchain, sources: list[str], classes: Path, cwd: Path, classpath: tuple[Path, ...] = ()
) -> tuple[str, int]:
    """Run javac/scalac (against ``classpath``); returns its combined output and exit code."""
    cp = ["-classpath", os.pathsep.join(map(str, classpath))] if classpath else []
    argv = [tc.compiler, *COMPILER_FLAGS[tc.language], *cp, "-d", str(classes), *sources]
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return f"{tc.compiler} did not finish within {COMPILE_TIMEOUT_S} s", 124
    return done.stdout + done.stderr, done.returncode


def _display(source_dir: Path, files: list[Path], display_root: Path | None) -> tuple[Path, list[Path]]:
    if display_root is not None:
        try:
            return display_root, [p.relative_to(display_root) for p in files]
        except ValueError:
            pass
    return source_dir, [p.resolve() for p in files]


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)
