from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.keys.format import KeyFormat
from policyengine.keys.scan import scan_paths

FORMAT = KeyFormat("tdoc")
words = st.text(alphabet=string.ascii_letters + string.digits + " =:_-'\"", max_size=40)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(
        st.lists(st.tuples(words, st.booleans(), st.booleans()), max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_scan_finds_exactly_the_planted_valid_keys_where_they_were_planted(
    tmp_path_factory, files: list[list[tuple[str, bool, bool]]]
) -> None:
    root = tmp_path_factory.mktemp("tree")
    planted = set()
    for number, lines in enumerate(files):
        directory = root / f"d{number % 2}"
        directory.mkdir(exist_ok=True)
        path = directory / f"f{number}.txt"
        text = []
        for line_number, (noise, has_key, valid) in enumerate(lines, start=1):
            key = FORMAT.generate("live" if valid else "test")
            if not valid:
                key = key[:-1] + ("0" if key[-1] != "0" else "1")  # a look-alike
            line = f"{noise} {key}" if has_key else noise
            if has_key and valid:
                planted.add((path, line_number, len(noise) + 2, key))
            text.append(line)
        path.write_text("\n".join(text))
    result = scan_paths([root], FORMAT)
    assert {(f.path, f.line, f.column, f.secret) for f in result.findings} == planted
    assert result.files == len(files)


def test_scan_skips_binary_and_huge_files_and_says_why(tmp_path: Path) -> None:
    key = FORMAT.generate("live")
    (tmp_path / "blob.bin").write_bytes(b"\0" + key.encode())
    (tmp_path / "huge.log").write_text(key + "x" * 2048)
    (tmp_path / "latin1.txt").write_bytes("café ".encode("latin-1") + key.encode())
    result = scan_paths([tmp_path, tmp_path / "missing"], FORMAT, max_bytes=1024)
    assert [(f.path.name, f.line, f.column) for f in result.findings] == [("latin1.txt", 1, 6)]
    assert sorted((s.path.name, s.reason) for s in result.skipped) == [
        ("blob.bin", "binary"),
        ("huge.log", "larger than 1024 bytes"),
    ]
    # A path named to the scan that cannot be read is not a skip but an error.
    assert [(s.path.name, s.reason) for s in result.unreadable] == [
        ("missing", "no such file or directory")
    ]


def test_scan_does_not_follow_directory_links_out_of_the_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(FORMAT.generate("live"))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside, target_is_directory=True)
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    assert scan_paths([tree], FORMAT).findings == []
