"""Mutation testing of the security-critical modules, one module group at a time.

    python -m tests.mutation                 # every group below
    python -m tests.mutation net tokens      # just these

Each group runs mutmut in its own work folder under ``.mutation/<group>/`` with only the
tests that pin that group, so a group takes minutes rather than the whole suite per
mutant. The survivors go to ``.mutation/survivors.txt``; any survivor that
``tests/mutation/equivalent.md`` does not explain makes the command exit 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.md"
SHARED = ("policyengine", "tests", "policies", "docs", "README.md", "portal")

# group: (files mutmut mutates, the tests that must kill their mutants)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "net": (
        ["policyengine/net.py"],
        [
            "tests/test_net.py",
            "tests/test_forwarded.py",
            "tests/language/test_address_boundaries.py",
            "tests/engine/test_proxies.py",
        ],
    ),
    "keys": (
        ["policyengine/keys/format.py", "policyengine/keys/hashing.py"],
        ["tests/keys/test_key_format.py", "tests/keys/test_key_hashing.py"],
    ),
    "lookup": (
        ["policyengine/keys/lookup.py"],
        [
            "tests/keys/test_key_lookup.py",
            "tests/keys/test_lookup_cache.py",
            "tests/keys/test_store_watch.py",
            "tests/keys/test_key_lifecycle.py",
            "tests/engine/test_tokens.py",
        ],
    ),
    "tokens": (
        ["policyengine/tokens/*"],
        [
            "tests/tokens",
            "tests/engine/test_tokens.py",
            "tests/engine/test_token_narrowing.py",
        ],
    ),
    "limits": (
        ["policyengine/limits/*"],
        [
            "tests/limits",
            # Four processes over Redis prove atomicity, not arithmetic; the others do that.
            "--deselect=tests/limits/test_redis.py::test_four_processes_on_one_key_admit_exactly_the_limit",
        ],
    ),
    "pipeline": (
        ["policyengine/pipeline.py"],
        [
            "tests/engine/test_check.py",
            "tests/engine/test_paths.py",
            "tests/engine/test_fail_closed.py",
            "tests/engine/test_proxies.py",
            "tests/engine/test_tokens.py",
            "tests/engine/test_token_narrowing.py",
            "tests/engine/test_pipeline_edges.py",
            "tests/engine/test_request_attributes.py",
            "tests/engine/test_judged.py",
            # Remembered answers against fresh ones: both sides run the mutated pipeline.
            "--deselect=tests/engine/test_judged.py::test_remembered_answers_are_the_answers_worked_out_afresh",
        ],
    ),
    "express": (
        ["policyengine/express.py", "policyengine/judged.py", "policyengine/metering.py"],
        [
            "tests/engine/test_express.py",
            "tests/engine/test_judged.py",
            "tests/engine/test_check.py",
            "tests/engine/test_paths.py",
            "tests/engine/test_fail_closed.py",
            "tests/engine/test_dry_run.py",
            "tests/engine/test_event_loop.py",
            "tests/engine/test_request_attributes.py",
            "tests/engine/test_proxies.py",
            "tests/engine/test_tokens.py",
            "tests/engine/test_token_narrowing.py",
        ],
    ),
    "engine": (
        ["policyengine/engine.py"],
        [
            "tests/engine/test_check.py",
            "tests/engine/test_paths.py",
            "tests/engine/test_fail_closed.py",
            "tests/engine/test_proxies.py",
            "tests/engine/test_tokens.py",
            "tests/engine/test_token_narrowing.py",
            "tests/engine/test_pipeline_edges.py",
            "tests/engine/test_request_attributes.py",
            "tests/engine/test_dry_run.py",
            "tests/engine/test_reload.py",
            "tests/engine/test_rotation_limits.py",
            "tests/engine/test_event_loop.py",
            # What the engine hands the monitor and the process's shutdown, in memory.
            "tests/monitor/test_opening.py",
            "tests/monitor/test_records.py::test_an_allowed_check_is_kept_with_everything_that_explains_it[memory]",
            "tests/monitor/test_records.py::test_a_checks_recorded_latency_is_the_time_the_check_took[memory]",
            "tests/monitor/test_records.py::test_behind_a_trusted_proxy_the_forwarded_client_is_kept[memory]",
            "tests/monitor/test_records.py::test_a_record_names_the_engines_environment_and_masks_keys_of_its_prefix[memory]",
            "tests/monitor/test_alerts.py::test_the_scenario_raises_every_kind_of_alert_exactly_once[memory]",
            "tests/monitor/test_cli.py::test_audit_head_verify_and_export",
            "tests/monitor/test_metrics.py::test_a_full_queue_shows_its_drops[memory]",
            "tests/monitor/test_audit.py::test_it_holds_policy_loads_key_lifecycle_and_who_did_each[memory]",
            "tests/monitor/test_audit.py::test_a_lasting_audit_log_needs_a_lasting_secret",
            "tests/monitor/test_shutdown.py::test_an_engine_takes_sigterm_and_sigint_unless_told_not_to",
            "--deselect=tests/engine/test_reload.py::test_four_processes_sharing_redis_admit_exactly_the_limit",
            # Seconds of stalled store per run; try_check is pinned by the tests beside it.
            "--deselect=tests/engine/test_event_loop.py::test_unknown_keys_waiting_for_a_slow_store_do_not_stall_other_requests",
        ],
    ),
    "prepared": (
        ["policyengine/policy/prepared.py"],
        [
            "tests/policy/test_differential.py",
            "tests/policy/test_regressions.py",
            "tests/policy/test_explain.py",
            "tests/policy/test_prepared_edges.py",
            "tests/engine/test_check.py",
            "tests/engine/test_token_narrowing.py",
        ],
    ),
    "compiler": (
        ["policyengine/language/compiler.py"],
        ["tests/language", "tests/policy/test_differential.py"],
    ),
}

#: Groups whose tests run under the ``mutation`` Hypothesis profile (tests/conftest.py):
#: their property tests reach nearly every mutant and take minutes at full size.
FEWER_EXAMPLES = {"prepared", "compiler"}

# "    policyengine.net.x_parse__mutmut_3: survived"
RESULT = re.compile(r"^\s*(?P<name>policyengine\.\S+__mutmut_\d+): (?P<status>.+?)\s*$")
LISTED = re.compile(r"`(policyengine\.\S+__mutmut_\d+)`")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + item.replace('"', '\\"') + '"' for item in items) + "]"


def prepare(group: str) -> Path:
    """A work folder that looks like the repository to mutmut, with this group's config."""
    mutate, tests = GROUPS[group]
    folder = WORK / group
    folder.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config += (
        "\n[tool.mutmut]\n"
        'source_paths = ["policyengine"]\n'
        f"only_mutate = {_toml_list(mutate)}\n"
        f"also_copy = {_toml_list([n for n in SHARED if n not in ('policyengine', 'tests')])}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
    )
    # mutmut itself forgets the verdicts a changed test selection or source invalidates.
    (folder / "pyproject.toml").write_text(config, encoding="utf-8")
    return folder


def results(folder: Path, mutmut: str) -> dict[str, str]:
    listing = subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for line in listing.splitlines():
        if match := RESULT.match(line):
            found[match["name"]] = match["status"]
    return found


def source_digest(group: str) -> str:
    """What the group's mutants were made from: the text of every file it mutates."""
    digest = hashlib.sha256()
    for pattern in GROUPS[group][0]:
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run(group: str, mutmut: str) -> dict[str, str]:
    folder = prepare(group)
    mutants, stamp = folder / "mutants", folder / "source.sha256"
    digest = source_digest(group)
    made_from = stamp.read_text(encoding="utf-8") if stamp.exists() else None
    if mutants.exists() and made_from != digest:
        # Mutants of other source: their names would now point at other changes, and a
        # survivor tried again would be a different mutant. Start afresh.
        shutil.rmtree(mutants)
    stamp.write_text(digest, encoding="utf-8")
    cached = mutants.exists()
    env = dict(os.environ)
    if group in FEWER_EXAMPLES:
        env["HYPOTHESIS_PROFILE"] = "mutation"
    subprocess.run([mutmut, "run"], cwd=folder, check=True, stdout=subprocess.DEVNULL, env=env)
    found = results(folder, mutmut)
    # mutmut keeps a mutant's verdict while its function is unchanged; a survivor of an
    # earlier run is tried again, since the tests may have changed to kill it.
    survivors = [name for name, status in found.items() if status != "killed"]
    if cached and survivors:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([mutmut, "run", *survivors], cwd=folder, check=True, env=env, **quiet)
        found = results(folder, mutmut)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=", ".join(GROUPS))
    args = parser.parse_args(argv)
    if unknown := [g for g in args.groups if g not in GROUPS]:
        parser.error(f"unknown group {unknown[0]!r}; choose from {', '.join(GROUPS)}")
    groups = args.groups or list(GROUPS)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    equivalent = set(LISTED.findall(EQUIVALENT.read_text(encoding="utf-8")))

    unexplained: list[str] = []
    report: list[str] = []
    for group in groups:
        results = run(group, mutmut)
        counts = Counter(results.values())
        survivors = sorted(n for n, s in results.items() if s != "killed")
        explained = [n for n in survivors if n in equivalent]
        unexplained += [f"{n}: {results[n]}" for n in survivors if n not in equivalent]
        line = (
            f"{group}: {len(results)} mutants, {counts['killed']} killed, "
            f"{len(explained)} equivalent, {len(survivors) - len(explained)} unexplained"
        )
        print(line, flush=True)
        report += [f"# {line}", *(f"{n}: {results[n]}" for n in survivors), ""]

    (WORK / "survivors.txt").write_text("\n".join(report), encoding="utf-8")
    if unexplained:
        print("\nSurvivors that equivalent.md does not explain:", *unexplained, sep="\n  ")
        print(f"\n(see `mutmut show NAME` in {WORK}/<group>/)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
