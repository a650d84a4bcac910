"""What a pack declares it needs, read the way its authors' tools read it.

Three sources, all read and merged (ComfyUI packs often carry more than one, and they disagree):
``pyproject.toml [project].dependencies`` (PEP 621), ``[tool.poetry.dependencies]`` (poetry's caret, tilde and
wildcard constraints converted to PEP 440; the ``python`` key is the interpreter, not a package) and
``requirements.txt`` as pip reads it (comments, line continuations, ``-r`` / ``-c`` includes, index options,
``-e`` and local paths, bare URLs). Then the user's manifest ``<extensions>/<pack>.deps.toml`` adds or replaces
requirements (``add = [...]``) and drops them (``remove = [names]``).

Requirement strings are parsed and validated by ``packaging`` (PEP 508); a line it rejects is skipped and
reported (as ComfyUI-Manager installs lines one by one, one bad line does not cost the pack the others).
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

#: pip options in requirements files that uv takes as they are (with their value)
INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
                 "-f": "--find-links", "--find-links": "--find-links"}
#: pip options that change nothing about what is installed here (or that uv decides itself)
IGNORED_OPTIONS = {"--pre", "--prefer-binary", "--no-index", "--trusted-host", "--only-binary", "--no-binary",
                   "--use-feature", "--hash", "--config-settings", "--global-option", "--install-option"}
_TAKES_VALUE = {"--trusted-host", "--only-binary", "--no-binary", "--use-feature", "--config-settings",
                "--global-option", "--install-option"}


class PoetryConstraintError(ValueError):
    """A poetry version constraint this reader cannot turn into PEP 440."""


@dataclass
class PackRequirements:
    """Everything a pack's environment is built from.

    ``requirements``: lines for ``uv pip install -r`` (PEP 508 strings; ``-e <path>`` and URLs as pip takes them);
    ``options``: index options (``--extra-index-url URL``, ``--find-links DIR``), paths made absolute;
    ``constraints``: lines of ``-c`` files; ``origins``: requirement -> where it was declared (``requirements.txt:3``);
    ``problems``: lines that were skipped, with the reason, for the pack's report."""

    requirements: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, requirement: str, origin: str) -> None:
        if requirement not in self.origins:
            self.requirements.append(requirement)
            self.origins[requirement] = origin


def requirement_name(line: str) -> str:
    """The canonical project name of a requirement line ('' for an option, a bare URL or a path)."""
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return ""


# -- poetry ------------------------------------------------------------------------------------------------------

def _release(text: str) -> list[int]:
    parts = text.split(".")
    if not all(p.isdigit() for p in parts):
        raise PoetryConstraintError(f"{text!r} is not a plain release version")
    return [int(p) for p in parts]


def _joined(parts: list[int]) -> str:
    return ".".join(str(p) for p in parts)


def _caret(version: str) -> str:
    """``^1.2.3`` -> ``>=1.2.3,<2``; the leftmost non-zero part is the one that may not change."""
    parts = _release(version)
    index = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
    return f">={version},<{_joined(parts[:index] + [parts[index] + 1])}"


def _tilde(version: str) -> str:
    """``~1.2.3`` -> ``>=1.2.3,<1.3``; ``~1`` -> ``>=1,<2``."""
    parts = _release(version)
    index = 0 if len(parts) == 1 else 1
    return f">={version},<{_joined(parts[:index] + [parts[index] + 1])}"


def _single(constraint: str) -> str:
    constraint = constraint.strip()
    if constraint in ("", "*"):
        return ""
    if constraint.startswith("^"):
        return _caret(constraint[1:].strip())
    if constraint.startswith("~") and not constraint.startswith("~="):
        return _tilde(constraint[1:].strip())
    if constraint[0].isdigit():  # a bare version is exact in poetry (wildcards included)
        return f"=={constraint}"
    return constraint.replace(" ", "")


def _hull(alternatives: list[SpecifierSet]) -> SpecifierSet:
    """PEP 440 has no "or": ``^1 || ^2`` becomes the smallest range holding every alternative."""
    lows = [s for alt in alternatives for s in alt if s.operator in (">=", ">")]
    highs = [s for alt in alternatives for s in alt if s.operator in ("<", "<=")]
    parts = []
    if lows and all(any(s.operator in (">=", ">") for s in alt) for alt in alternatives):
        parts.append(min(lows, key=lambda s: _key(s.version)))
    if highs and all(any(s.operator in ("<", "<=") for s in alt) for alt in alternatives):
        parts.append(max(highs, key=lambda s: _key(s.version)))
    return SpecifierSet(",".join(str(p) for p in parts))


def _key(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def poetry_constraint(text: str) -> str:
    """A poetry version constraint as a PEP 440 specifier (``""`` for any version)."""
    alternatives = []
    for alternative in text.split("||"):
        pieces = [p for chunk in alternative.split(",") for p in _split_spaces(chunk)]
        joined = ",".join(s for s in (_single(p) for p in pieces) if s)
        try:
            alternatives.append(SpecifierSet(joined))
        except InvalidSpecifier as exc:
            raise PoetryConstraintError(f"{text!r}: {exc}") from None
    spec = alternatives[0] if len(alternatives) == 1 else _hull(alternatives)
    return ",".join(sorted((str(s) for s in spec), key=lambda s: _ORDER.index(s[:2].rstrip("0123456789."))))


_ORDER = [">=", ">", "==", "~=", "!=", "<=", "<"]


def _split_spaces(chunk: str) -> list[str]:
    """``>= 1.2 < 2`` -> [``>=1.2``, ``<2``]: poetry separates constraints by spaces too."""
    words, out = chunk.split(), []
    for word in words:
        if out and out[-1] in ("<", "<=", ">", ">=", "==", "!=", "~=", "^", "~"):
            out[-1] += word
        else:
            out.append(word)
    return out


def _python_marker(constraint: str) -> str:
    spec = SpecifierSet(poetry_constraint(constraint))
    return " and ".join(f'python_full_version {s.operator} "{s.version}"' for s in spec)


def poetry_requirement(name: str, value: Any, pack_dir: Path) -> list[str]:
    """One ``[tool.poetry.dependencies]`` entry as PEP 508 lines (a list of tables gives one line each)."""
    if isinstance(value, list):
        return [line for item in value for line in poetry_requirement(name, item, pack_dir)]
    if isinstance(value, str):
        value = {"version": value}
    if not isinstance(value, dict) or value.get("optional"):
        return []  # optional ones are installed only for an extra
    extras = f"[{','.join(value['extras'])}]" if value.get("extras") else ""
    markers = [m for m in (value.get("markers"), _python_marker(value["python"]) if "python" in value else "",
                           f'sys_platform == "{value["platform"]}"' if "platform" in value else "") if m]
    if "git" in value:
        ref = value.get("rev") or value.get("tag") or value.get("branch")
        target = f" @ git+{value['git']}" + (f"@{ref}" if ref else "")
        if value.get("subdirectory"):
            target += f"#subdirectory={value['subdirectory']}"
    elif "path" in value:
        target = f" @ {(pack_dir / value['path']).resolve().as_uri()}"
    elif "url" in value:
        target = f" @ {value['url']}"
    else:
        target = poetry_constraint(str(value.get("version", "*")))
    line = f"{name}{extras}{target}" + (" ; " + " and ".join(f"({m})" for m in markers) if markers else "")
    return [str(Requirement(line))]


def read_pyproject(pack_dir: Path, out: PackRequirements) -> None:
    path = pack_dir / "pyproject.toml"
    if not path.is_file():
        return
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        out.problems.append(f"pyproject.toml: not valid TOML ({exc}); its dependencies were not read")
        return
    for line in data.get("project", {}).get("dependencies", []) or []:
        _requirement_line(str(line), "pyproject.toml [project]", pack_dir, out, set(), False)
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {}) or {}
    for name, value in poetry.items():
        if canonicalize_name(name) == "python":
            continue
        try:
            for line in poetry_requirement(name, value, pack_dir):
                out.add(line, "pyproject.toml [tool.poetry]")
        except (PoetryConstraintError, InvalidRequirement, InvalidSpecifier) as exc:
            out.problems.append(f"pyproject.toml [tool.poetry] {name} = {value!r}: skipped ({exc})")


# -- requirements.txt --------------------------------------------------------------------------------------------

def _logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's reading: ``\\`` continues a line, ``#`` at the start or after whitespace starts a comment."""
    lines, buffer, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        if raw.endswith("\\"):
            buffer += raw[:-1]
            continue
        line = buffer + raw
        buffer = ""
        cut = next((i for i, c in enumerate(line) if c == "#" and (i == 0 or line[i - 1].isspace())), len(line))
        if line[:cut].strip():
            lines.append((start, line[:cut].strip()))
    if buffer.strip():
        lines.append((start, buffer.strip()))
    return lines


def _local(value: str, base: Path) -> str:
    """A path relative to the requirements file made absolute; URLs stay as they are."""
    if "://" in value or value.startswith(("git+", "hg+", "svn+", "bzr+")):
        return value
    return str((base / value).resolve())


def _url_or_path(value: str, base: Path) -> str:
    """A bare URL or path as a requirement: named when the name is known (``#egg=``, a wheel's file name)."""
    target = _local(value, base)
    uri = Path(target).as_uri() if target.startswith("/") else target
    name = ""
    if "#egg=" in value:
        name = value.split("#egg=", 1)[1].split("&")[0]
    elif value.endswith(".whl"):
        try:
            name = parse_wheel_filename(value.rsplit("/", 1)[-1])[0]
        except InvalidWheelFilename:
            name = ""
    return f"{name} @ {uri.split('#egg=')[0]}" if name else target


def read_requirements_file(path: Path, out: PackRequirements, seen: set[Path] | None = None,
                           constraints: bool = False) -> None:
    """Read one requirements file (and what it includes) into ``out``."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        out.problems.append(f"{path.name}: cannot be read ({exc})")
        return
    for number, line in _logical_lines(text):
        _requirement_line(line, f"{path.name}:{number}", path.parent, out, seen, constraints)


def _requirement_line(line: str, origin: str, base: Path, out: PackRequirements, seen: set[Path],
                      constraints: bool) -> None:
    if line.startswith("-"):
        _option_line(line, origin, base, out, seen)
        return
    line = " ".join(w for w in line.split(" ") if not w.startswith("--hash"))  # per-line hashes: uv checks none
    if constraints:
        out.constraints.append(line)
        return
    try:
        out.add(str(Requirement(line)), origin)
        return
    except InvalidRequirement as exc:
        error = exc
    if "://" in line or line.startswith((".", "/", "git+")) or line.endswith((".whl", ".zip", ".tar.gz")):
        out.add(_url_or_path(line, base), origin)
    else:
        reason = str(error).splitlines()[0]
        out.problems.append(f"{origin}: {line!r} is not a requirement pip would take ({reason}); skipped")


def _option_line(line: str, origin: str, base: Path, out: PackRequirements, seen: set[Path]) -> None:
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    option, value = words[0], " ".join(words[1:])
    if "=" in option and option.startswith("--"):
        option, value = option.split("=", 1)
    if option in ("-r", "--requirement", "-c", "--constraint"):
        read_requirements_file(base / value, out, seen, constraints=option in ("-c", "--constraint"))
    elif option in ("-e", "--editable"):
        out.add(f"-e {_local(value, base)}", origin)
    elif option in INDEX_OPTIONS:
        target = value if "://" in value else _local(value, base)
        out.options += [INDEX_OPTIONS[option], target]
    elif option not in IGNORED_OPTIONS:
        out.problems.append(f"{origin}: pip option {option!r} is not used by nodehost; ignored")


# -- the whole pack ----------------------------------------------------------------------------------------------

def read_pack_requirements(pack_dir: Path, manifest: dict[str, Any] | None = None) -> PackRequirements:
    """A pack's requirements from all its sources, then the manifest's ``add`` (replacing requirements of the
    same name) and ``remove`` (names)."""
    out = PackRequirements()
    read_pyproject(pack_dir, out)
    if (pack_dir / "requirements.txt").is_file():
        read_requirements_file(pack_dir / "requirements.txt", out)
    manifest = manifest or {}
    added = PackRequirements()
    for line in manifest.get("add", []) or []:
        _requirement_line(str(line), "manifest add", pack_dir, added, set(), False)
    dropped = {canonicalize_name(str(n).split("[")[0].strip()) for n in manifest.get("remove", []) or []}
    dropped |= {requirement_name(r) for r in added.requirements} - {""}
    kept = PackRequirements(options=out.options + added.options, constraints=out.constraints,
                            problems=out.problems + added.problems)
    for line in out.requirements:
        if requirement_name(line) not in dropped:
            kept.add(line, out.origins[line])
    for line in added.requirements:
        kept.add(line, added.origins[line])
    return kept
