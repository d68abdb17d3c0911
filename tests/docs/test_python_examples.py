"""The Python examples of the docs run, page by page and in order, as a reader runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(
    r"^```python\n(.*?)^```\n(?:\nprints\n\n```text\n(.*?)^```)?", re.DOTALL | re.MULTILINE
)

#: What each page must show, so that a page cannot lose the example of a feature.
SHOWN = {
    "engine.md": (
        "Engine.from_directory(",
        "engine.check(",
        "explain=True",
        "Authorize(",
        "PolicyMiddleware(",
        "engine.reload(",
        "trusted_proxies=",
    ),
    "keys.md": (
        "keys.create(",
        "keys.lookup(",
        "keys.list(",
        "keys.update(",
        "keys.disable(",
        "keys.enable(",
        "keys.rotate(",
        "keys.revoke(",
        "keys.sweep(",
    ),
    "configuration.md": ("Engine.from_directory(", "cache_memory="),
    "operations.md": ("trusted_proxies=", "engine.reload("),
    "troubleshooting.md": ("engine.check(",),
    "proxies.md": ("trusted_proxies=", "forwarded_header="),
    "tokens.md": ("tokens.issue(", "tokens.verify(", "tokens.rotate(", ".retire(", "tokens.jwks("),
    "rate-limits.md": ("acquire(",),
    "activity.md": ("monitor.activity(", "monitor.address_activity(", "monitor.usage(", ".trace"),
    "metrics.md": ("monitor.metrics(", "monitor.collector"),
    "alerts.md": ("monitor.alerts(", "monitor.subscribe("),
    "audit.md": ("audit.export(", "audit.verify(", "audit.head(", "audit.record(", "actor="),
    "webhooks.md": (
        "Webhook(secret).verify(",
        "hmac.compare_digest(",
        "signed_headers(",
        "DeliveryQueue.open(",
        "queue.enqueue(",
        "queue.list(",
        "queue.replay(",
        "check_target(",
    ),
}


def examples(page: str) -> list[tuple[int, str, str | None]]:
    """``(line, code, what the page says it prints)`` for each Python block."""
    text = (DOCS / page).read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1), m.group(2)) for m in _BLOCK.finditer(text)
    ]


@pytest.mark.parametrize("page", sorted(SHOWN))
def test_the_page_shows_each_feature(page: str) -> None:
    code = "\n".join(block for _, block, _ in examples(page))
    missing = [call for call in SHOWN[page] if call not in code]
    assert not missing


@pytest.mark.parametrize("page", sorted(SHOWN))
def test_the_examples_run_in_order(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POLICYENGINE_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").symlink_to(DOCS.parent / "policies")
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for line, block, printed in examples(page):
        # Compiled with the page's name and line numbers, so a failure points into the page.
        code = compile("\n" * (line - 1) + block, str(DOCS / page), "exec")
        capsys.readouterr()
        exec(code, namespace)
        if printed is not None:
            assert capsys.readouterr().out == printed, f"{page}:{line}"
