"""The documentation, held to the code.

Examples are marked in the Markdown source by an HTML comment on the line before their
fence, ``<!-- example: KIND option=value ... -->``:

``policy``
    A complete policy file that loads.
``invalid``
    A complete policy file that does not load; the next fenced block shows every
    diagnostic, exactly (or, when it is a ``console`` block, the command that shows them).
``suite``
    A policy test suite whose cases all pass.
``fragment``
    Part of a file, shown for its shape; it must be YAML.
``context``
    The key and request (one per page) that the page's ``conditions`` are evaluated for.
``conditions``
    Lines ``CONDITION ⇒ OUTCOME`` (the outcome may go on the next line): ``true``,
    ``false`` or ``error: MESSAGE``.
``console``
    ``$ policyengine ...`` commands, each followed by its exact output; ``...`` on a line
    of its own stands for any number of lines.
``http``
    A request to tDoc's API, sent with a key of the type ``key=TYPE``; the next block is
    its answer. ``tests/tdoc/test_api_docs.py`` runs them against the API.

Options: ``file=PATH`` names the file (in diagnostics, or in its directory);
``with=policies`` loads a standalone policy or suite with the bundled ``policies/``;
``dir=NAME`` puts a file into the directory ``NAME`` that the page's ``console`` blocks
with the same ``dir`` run in, as it stands at that point of the page (a directory named
``policies`` starts from the bundled one); ``status=N`` is a console block's exit status.
A directory without console blocks must load and pass its suites, ``invalid`` files
aside.

Tables that list what the code defines are marked ``<!-- table: NAME -->`` and compared
with it, so that the reference names every keyword, attribute, function and code.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from policyengine import cli
from policyengine.context import Context
from policyengine.decision import Code
from policyengine.errors import PolicyError
from policyengine.language import types
from policyengine.language.builtins import BUILTINS
from policyengine.language.checker import _ARITH, check
from policyengine.language.compiler import compile_predicate
from policyengine.language.parser import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NUMBER_DIGITS,
    ConditionError,
    parse,
)
from policyengine.language.schema import ATTRIBUTES, MAPS
from policyengine.net import parse_ip
from policyengine.policy.alerts import ALERT_KINDS
from policyengine.policy.files import MAX_FILE_BYTES, is_test_file
from policyengine.policy.loader import FILE_KEYS, load_texts
from policyengine.policy.model import REQUIRABLE_FIELDS
from policyengine.policy.read_alerts import COMMON_KEYS
from policyengine.policy.read_key_types import KEY_TYPE_KEYS
from policyengine.policy.read_rules import RULE_CODES, RULE_KEYS
from policyengine.policy.routes import METHODS
from policyengine.policy.source import MAX_INTEGER_DIGITS, MAX_YAML_DEPTH
from policyengine.policy.suites import CASE_KEYS, KEY_FIELDS, REQUEST_FIELDS, SUITE_KEYS
from policyengine.record import KeyRecord
from policyengine.testrun import run_directory
from policyengine.units import MAX_COUNT, PERIOD_SECONDS, UNIT_SECONDS, parse_rate

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
POLICIES = REPO / "policies"
REFERENCE = "policy-reference.md"
#: Pages on which every ```yaml block must be a marked example.
MARKED_PAGES = ("quickstart.md", "policies.md", "policy-reference.md", "policy-tests.md")

KINDS = ("policy", "invalid", "suite", "fragment", "context", "conditions", "console", "http")
FILE_KINDS = ("policy", "invalid", "suite")
OPTIONS = {"file", "with", "dir", "status", "key"}
_MARKER = re.compile(r"<!--\s*(example|table):\s*(.*?)\s*-->")
_FENCE = re.compile(r"(`{3,}|~{3,})\s*([^\s`]*)")
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str
    kind: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def file(self) -> str:
        default = "example_test.yaml" if self.kind == "suite" else "example.yaml"
        return self.options.get("file", default)


@dataclass
class Page:
    name: str
    blocks: list[Block] = field(default_factory=list)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def _read_page(path: Path) -> Page:
    page = Page(path.name)
    lines = path.read_text(encoding="utf-8").splitlines()
    marker: tuple[str, str, int] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _MARKER.fullmatch(line.strip())
        fence = _FENCE.match(line)
        if found:
            if marker is not None:
                page.problems.append(f"docs/{page.name}:{marker[2]}: marker without a block")
            marker = (found.group(1), found.group(2), i + 1)
        elif fence:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not _closes(lines[i], fence.group(1)):
                body.append(lines[i])
                i += 1
            kind, options = None, {}
            if marker is not None and marker[0] == "example":
                kind, *pairs = marker[1].split()
                options = dict(p.split("=", 1) for p in pairs if "=" in p)
                if kind not in KINDS or set(options) - OPTIONS or len(options) != len(pairs):
                    page.problems.append(f"docs/{page.name}:{marker[2]}: bad marker {marker[1]!r}")
                marker = None
            elif marker is not None:
                page.problems.append(f"docs/{page.name}:{marker[2]}: a table marker on a block")
                marker = None
            text = "\n".join(body) + "\n"
            page.blocks.append(Block(page.name, start, fence.group(2), text, kind, options))
        elif marker is not None and marker[0] == "table" and line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            if marker[1] in page.tables:
                page.problems.append(f"docs/{page.name}:{marker[2]}: table {marker[1]} twice")
            page.tables[marker[1]] = rows[2:]
            marker = None
            continue
        elif line.strip() and marker is not None:
            page.problems.append(f"docs/{page.name}:{marker[2]}: marker not followed by its block")
            marker = None
        i += 1
    if marker is not None:
        page.problems.append(f"docs/{page.name}:{marker[2]}: marker at the end of the page")
    return page


PAGES = {p.name: _read_page(p) for p in sorted(DOCS.glob("*.md"))}
BLOCKS = [b for page in PAGES.values() for b in page.blocks]


def _examples(*kinds: str) -> list[Block]:
    return [b for b in BLOCKS if b.kind in kinds]


def _id(block: Block) -> str:
    return block.where


def _table(name: str) -> list[list[str]]:
    found = [page.tables[name] for page in PAGES.values() if name in page.tables]
    assert len(found) == 1, f"table {name!r} is marked {len(found)} times in docs/"
    return found[0]


def _codes(cell: str) -> list[str]:
    return _CODE.findall(cell)


def _next_block(block: Block) -> Block:
    blocks = PAGES[block.page].blocks
    index = blocks.index(block)
    assert index + 1 < len(blocks), f"{block.where}: no block shows what it gives"
    return blocks[index + 1]


# The bundled policies, and directories built from examples.


def _bundled() -> dict[str, str]:
    return {
        f"policies/{p.relative_to(POLICIES).as_posix()}": p.read_text(encoding="utf-8")
        for p in sorted(POLICIES.rglob("*.y*ml"))
    }


def _policy_files(files: dict[str, str]) -> dict[str, str]:
    return {path: text for path, text in files.items() if not is_test_file(Path(path))}


def _directory(
    page: str, name: str, before: Block | None = None, kinds: tuple[str, ...] = FILE_KINDS
) -> dict[str, str]:
    """The files of directory ``name`` as ``page`` stands just before ``before``."""
    files = {p: t for p, t in _bundled().items() if name == "policies"}
    for block in PAGES[page].blocks:
        if block is before:
            break
        if block.kind in kinds and block.options.get("dir") == name:
            files[f"{name}/{block.file}"] = block.text
    return files


def _standalone(block: Block) -> dict[str, str]:
    files = _bundled() if block.options.get("with") == "policies" else {}
    files = _policy_files(files)
    files[block.file] = block.text
    return files


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _failures(directory: Path) -> list[str]:
    run = run_directory(directory)
    assert run.results, f"{directory} has no test cases"
    return [r.failure() for r in run.failed]


# Policy files and suites.


def test_docs_pages_mark_their_examples_correctly() -> None:
    problems = [p for page in PAGES.values() for p in page.problems]
    for page in MARKED_PAGES:
        assert page in PAGES, f"docs/{page} is missing"
        problems += [
            f"{b.where}: a yaml block that is not a marked example"
            for b in PAGES[page].blocks
            if b.lang == "yaml" and b.kind is None
        ]
    for block in _examples(*FILE_KINDS):
        if "dir" in block.options and "file" not in block.options:
            problems.append(f"{block.where}: a file of a directory needs file=")
        if "dir" in block.options and "with" in block.options:
            problems.append(f"{block.where}: dir= and with= do not go together")
    for block in _examples("fragment"):
        if not isinstance(yaml.safe_load(block.text), dict | list):
            problems.append(f"{block.where}: a fragment that is not a YAML mapping or list")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "block", [b for b in _examples("policy") if "dir" not in b.options], ids=_id
)
def test_policy_example_loads(block: Block) -> None:
    try:
        load_texts(_standalone(block))
    except PolicyError as error:
        pytest.fail(f"{block.where}: the example does not load:\n{error}")


@pytest.mark.parametrize("block", _examples("invalid"), ids=_id)
def test_invalid_example_gives_the_documented_errors(block: Block) -> None:
    shown = _next_block(block)
    if shown.kind == "console":
        assert shown.options.get("dir") == block.options.get("dir"), f"{shown.where}"
        return
    if "dir" in block.options:
        files = _policy_files(_directory(block.page, block.options["dir"], block))
        files[f"{block.options['dir']}/{block.file}"] = block.text
    else:
        files = _standalone(block)
    with pytest.raises(PolicyError) as raised:
        load_texts(files)
    assert str(raised.value) == shown.text.strip(), f"{block.where} vs {shown.where}"


@pytest.mark.parametrize(
    "block", [b for b in _examples("suite") if "dir" not in b.options], ids=_id
)
def test_suite_example_passes(block: Block, tmp_path: Path) -> None:
    assert block.options.get("with") == "policies", f"{block.where}: a suite needs policies"
    _write(tmp_path, _policy_files(_bundled()))
    _write(tmp_path / "policies", {Path(block.file).name: block.text})
    assert _failures(tmp_path / "policies") == [], block.where


def _directories() -> list[tuple[str, str]]:
    found = {(b.page, b.options["dir"]) for b in BLOCKS if "dir" in b.options}
    with_console = {(b.page, b.options.get("dir")) for b in _examples("console")}
    return sorted(found - with_console)


@pytest.mark.parametrize("page_and_dir", _directories(), ids=lambda p: f"{p[0]}:{p[1]}")
def test_example_directory_loads_and_passes_its_suites(
    page_and_dir: tuple[str, str], tmp_path: Path
) -> None:
    page, name = page_and_dir
    _write(tmp_path, _directory(page, name, kinds=("policy", "suite")))
    assert _failures(tmp_path / name) == [], f"docs/{page}: directory {name}"


# Commands.


def _commands(block: Block) -> list[tuple[list[str], list[str]]]:
    commands: list[tuple[list[str], list[str]]] = []
    for line in block.text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            commands.append((shlex.split(line[2:]), []))
        else:
            assert commands, f"{block.where}: output before any command"
            commands[-1][1].append(line)
    return commands


def _matches(expected: list[str], actual: str) -> bool:
    """Whether ``actual`` is ``expected``, line for line; a line ``...`` stands for any lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n" for line in expected
    )
    return re.fullmatch(pattern, actual) is not None


@pytest.mark.parametrize("block", _examples("console"), ids=_id)
def test_console_example_prints_what_the_page_shows(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    if "dir" in block.options:
        _write(tmp_path, _directory(block.page, block.options["dir"], block))
    monkeypatch.chdir(tmp_path)
    status = int(block.options.get("status", "0"))
    for argv, expected in _commands(block):
        assert argv[0] == "policyengine", f"{block.where}: only policyengine commands run"
        capsys.readouterr()
        try:
            code = cli.main(argv[1:])
        except SystemExit as exit_:  # argparse, on misuse
            code = exit_.code
        out, err = capsys.readouterr()
        assert _matches(expected, out + err), f"{block.where}: $ {shlex.join(argv)}\n{out}{err}"
        assert code == status, f"{block.where}: $ {shlex.join(argv)} exited {code}"


# Conditions.


def _context(page: str) -> tuple[KeyRecord, Context, frozenset[str]]:
    blocks = [b for b in PAGES[page].blocks if b.kind == "context"]
    assert len(blocks) == 1, f"docs/{page} needs one context block for its conditions"
    data = yaml.safe_load(blocks[0].text)
    k, req, res = data["key"], data["request"], data["resource"]

    def instant(value: object) -> datetime:
        assert isinstance(value, datetime), f"{blocks[0].where}: {value!r} is not an instant"
        return value

    key = KeyRecord(
        id=k["id"],
        type=k["type"],
        label=k["label"],
        environment=k["environment"],
        prefix=f"tdoc_{k['environment']}_",
        last4="0000",
        created_at=instant(k["created_at"]),
        expires_at=instant(k["expires_at"]),
        scopes=tuple(k["scopes"]),
        allowed_ips=tuple(k["allowed_ips"]),
        metadata=dict(k["metadata"]),
    )
    ctx = Context(
        ip=parse_ip(req["ip"]),
        time=instant(req["time"]).timestamp(),
        resource=res["type"],
        action=req["action"],
        resource_id=res["id"],
        method=req["method"],
        path=req["path"],
        credential_type=req["credential"],
        headers=dict(req["headers"]),
    )
    return key, ctx, frozenset(req["headers"])


def _conditions() -> list[tuple[Block, str, str]]:
    found = []
    for block in _examples("conditions"):
        for line in block.text.splitlines():
            if not line.strip():
                continue
            if line.lstrip().startswith("⇒"):
                assert found, f"{block.where}: {line!r} follows no condition"
                assert not found[-1][2], f"{block.where}: {line!r} follows an outcome"
                found[-1] = (block, found[-1][1], line.split("⇒", 1)[1].strip())
            else:
                source, _, outcome = line.partition("⇒")
                found.append((block, source.strip(), outcome.strip()))
    return found


def _outcome(source: str, key: KeyRecord, ctx: Context, headers: frozenset[str]) -> str:
    try:
        tree = check(parse(source), headers)
    except ConditionError as error:
        return f"error: {error.message}"
    return str(compile_predicate(tree, None, "example")(key, ctx)).lower()


@pytest.mark.parametrize(
    ("block", "source", "outcome"), _conditions(), ids=[c[1] for c in _conditions()]
)
def test_condition_example_has_the_documented_outcome(
    block: Block, source: str, outcome: str
) -> None:
    assert outcome, f"{block.where}: {source!r} shows no outcome"
    assert _outcome(source, *_context(block.page)) == outcome, f"{block.where}: {source}"


def test_example_context_gives_every_attribute_a_value() -> None:
    (block,) = [b for b in PAGES[REFERENCE].blocks if b.kind == "context"]
    data = yaml.safe_load(block.text)
    shown = {f"{root}.{name}" for root, values in data.items() for name in values}
    assert shown == set(ATTRIBUTES) | set(MAPS), block.where


# The reference names everything the code defines.


def _first_codes(table: str) -> list[str]:
    return [_codes(row[0])[0] for row in _table(table)]


@pytest.mark.parametrize(
    ("table", "keys"),
    [
        ("file-keys", FILE_KEYS),
        ("key-type-keys", KEY_TYPE_KEYS),
        ("rule-keys", RULE_KEYS),
        ("suite-keys", SUITE_KEYS),
        ("case-keys", CASE_KEYS),
        ("key-fields", KEY_FIELDS),
        ("request-fields", REQUEST_FIELDS),
        ("alert-keys", COMMON_KEYS),
    ],
)
def test_reference_lists_every_keyword(table: str, keys: tuple[str, ...]) -> None:
    assert sorted(_first_codes(table)) == sorted(keys)


def test_reference_lists_the_values_of_enumerated_keywords() -> None:
    rules = {_codes(row[0])[0]: " ".join(row) for row in _table("rule-keys")}
    assert all(f"`{code}`" in rules["code"] for code in RULE_CODES)
    key_types = {_codes(row[0])[0]: " ".join(row) for row in _table("key-type-keys")}
    assert all(f"`{name}`" in key_types["requires"] for name in REQUIRABLE_FIELDS)
    reference = (DOCS / REFERENCE).read_text(encoding="utf-8")
    assert all(f"`{method}`" in reference for method in METHODS)


def test_reference_lists_every_kind_of_alert_with_its_defaults() -> None:
    documented = {
        _codes(row[0])[0]: (row[1].strip("`"), set(_codes(row[2]))) for row in _table("alert-kinds")
    }
    expected = {
        name: (
            kind.severity,
            {f"{param}: {p.spell(p.default)}" for param, p in kind.params.items()},
        )
        for name, kind in ALERT_KINDS.items()
    }
    assert documented == expected


def test_reference_lists_every_attribute_with_its_type() -> None:
    documented = {_codes(row[0])[0]: row[1].strip("`") for row in _table("attributes")}
    expected = {path: str(a.type) for path, a in ATTRIBUTES.items()}
    expected |= {f"{name}.<name>": "string" for name in MAPS}
    assert documented == expected


def test_reference_lists_every_function_with_its_signatures() -> None:
    documented = {_codes(row[0])[0]: set(_codes(row[1])) for row in _table("functions")}
    expected = {
        name: {f"{name}({', '.join(params)}) → {result}" for params, result in b.signatures}
        for name, b in BUILTINS.items()
    }
    assert documented == expected


def test_reference_lists_the_arithmetic_table() -> None:
    documented = {tuple(cell.strip("`") for cell in row) for row in _table("arithmetic")}
    expected = {(str(a), op, str(b), str(result)) for (a, op, b), result in _ARITH.items()}
    assert documented == expected


def test_reference_lists_every_type() -> None:
    documented = {code.split("[")[0] for code in _first_codes("types")}
    defined = {
        t.name for t in vars(types).values() if isinstance(t, types.Type) and t != types.NOTHING
    }
    assert documented == defined | {"list"}


def test_reference_lists_every_unit_and_period() -> None:
    assert set(_first_codes("duration-units")) == set(UNIT_SECONDS)
    periods = {_codes(row[0])[0]: _codes(row[1]) for row in _table("rate-periods")}
    assert set(periods) == set(PERIOD_SECONDS)
    for period, short in periods.items():
        for alias in short:
            assert parse_rate(f"5/{alias}") == parse_rate(f"5/{period}")


def test_reference_states_the_limits_of_conditions() -> None:
    reference = (DOCS / REFERENCE).read_text(encoding="utf-8")
    assert f"{MAX_LENGTH:,} characters" in reference
    assert f"{MAX_DEPTH} levels" in reference
    assert f"at most {MAX_NUMBER_DIGITS} digits before its point" in reference


def test_reference_states_the_limits_of_policy_files() -> None:
    reference = (DOCS / REFERENCE).read_text(encoding="utf-8")
    assert f"at most {MAX_FILE_BYTES:,} bytes" in reference
    assert f"at most {MAX_YAML_DEPTH} levels deep" in reference
    assert f"at most {MAX_INTEGER_DIGITS} digits" in reference
    assert f"at most {MAX_COUNT:,} requests per period" in reference


def test_decisions_page_lists_every_code_with_its_status() -> None:
    documented = {}
    for row in _table("codes"):
        for code in _codes(row[0]):
            assert code not in documented, f"{code} is listed twice"
            documented[code] = int(row[1])
    assert documented == {code.value: code.status for code in Code}


def test_docs_name_every_command_and_option() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    missing = []
    for name, command in commands.choices.items():
        if f"policyengine {name}" not in text:
            missing.append(f"policyengine {name}")
        for action in command._actions:
            missing += [
                f"{name} {o}"
                for o in action.option_strings
                if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)
            ]
    assert missing == []
