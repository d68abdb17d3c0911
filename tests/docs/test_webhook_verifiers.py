"""The library-free webhook verifiers of docs/webhooks.md, in JavaScript, Go, Ruby and PHP,
accept what policyengine signs and refuse a changed body or an old timestamp."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from policyengine.monitor.webhooks import generate_secret, signed_headers

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"

# What each verifier is called by: it reads a delivery from the environment and stdin and
# prints "verified" or the verifier's error.
HARNESS = {
    "javascript": """
const body = require("node:fs").readFileSync(0);
const e = process.env;
try {
  verifyWebhook(e.WEBHOOK_SECRET, {"webhook-id": e.WEBHOOK_ID,
    "webhook-timestamp": e.WEBHOOK_TIMESTAMP, "webhook-signature": e.WEBHOOK_SIGNATURE}, body);
  console.log("verified");
} catch (error) { console.log(error.message); }
""",
    "go": """package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	body, _ := io.ReadAll(os.Stdin)
	header := http.Header{}
	header.Set("Webhook-Id", os.Getenv("WEBHOOK_ID"))
	header.Set("Webhook-Timestamp", os.Getenv("WEBHOOK_TIMESTAMP"))
	header.Set("Webhook-Signature", os.Getenv("WEBHOOK_SIGNATURE"))
	if err := verifyWebhook(os.Getenv("WEBHOOK_SECRET"), header, body); err != nil {
		fmt.Println(err)
	} else {
		fmt.Println("verified")
	}
}
""",
    "ruby": """
body = $stdin.binmode.read
headers = {"webhook-id" => ENV["WEBHOOK_ID"], "webhook-timestamp" => ENV["WEBHOOK_TIMESTAMP"],
           "webhook-signature" => ENV["WEBHOOK_SIGNATURE"]}
begin
  verify_webhook(ENV["WEBHOOK_SECRET"], headers, body)
  puts "verified"
rescue ArgumentError => error
  puts error.message
end
""",
    "php": """
$body = file_get_contents('php://stdin');
$headers = ['Webhook-Id' => getenv('WEBHOOK_ID'), 'Webhook-Timestamp' => getenv('WEBHOOK_TIMESTAMP'),
            'Webhook-Signature' => getenv('WEBHOOK_SIGNATURE')];
try {
    verify_webhook(getenv('WEBHOOK_SECRET'), $headers, $body);
    echo "verified\\n";
} catch (InvalidArgumentException $error) {
    echo $error->getMessage(), "\\n";
}
""",
}
TOOL = {"javascript": "node", "go": "go", "ruby": "ruby", "php": "php"}


def verifiers() -> dict[str, str]:
    """The code of each language's tab under "With no library"."""
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("### With no library") :]
    section = section[: section.index("\n## ")]
    return {
        lang: code
        for lang, code in re.findall(r"^```(\w+)\n(.*?)^```", section, re.S | re.M)
        if lang in HARNESS
    }


def test_the_page_has_a_verifier_in_each_language() -> None:
    assert sorted(verifiers()) == sorted(HARNESS)


def _command(lang: str, code: str, directory: Path) -> list[str]:
    if lang == "go":
        (directory / "verify.go").write_text(code)
        (directory / "main.go").write_text(HARNESS[lang])
        return ["go", "run", "verify.go", "main.go"]
    suffix = {"javascript": "js", "ruby": "rb", "php": "php"}[lang]
    program = directory / f"verify.{suffix}"
    program.write_text(code + HARNESS[lang])
    return [TOOL[lang], program.name]


@pytest.mark.parametrize("lang", sorted(HARNESS))
def test_the_verifier_accepts_our_deliveries_and_refuses_others(lang: str, tmp_path: Path) -> None:
    if shutil.which(TOOL[lang]) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{TOOL[lang]} is not installed")
        pytest.skip(f"{TOOL[lang]} is not installed")
    command = _command(lang, verifiers()[lang], tmp_path)
    secret = generate_secret()
    body = b'{"type":"key.revoked","timestamp":"2026-01-01T12:00:00.000000Z","data":{"key":"k_1"}}'
    now = int(time.time())
    cases = [
        (now, body, "verified"),
        (now, body.replace(b"k_1", b"k_2"), "no webhook signature matches"),
        (now - 600, body, "webhook timestamp outside the tolerance"),
    ]
    env = dict(os.environ)
    for timestamp, sent, expected in cases:
        headers = signed_headers(secret, "msg_1", timestamp, body)
        env.update(
            WEBHOOK_SECRET=secret,
            WEBHOOK_ID=headers["webhook-id"],
            WEBHOOK_TIMESTAMP=headers["webhook-timestamp"],
            WEBHOOK_SIGNATURE=headers["webhook-signature"],
        )
        run = subprocess.run(
            command, input=sent, env=env, cwd=tmp_path, capture_output=True, timeout=300
        )
        assert run.returncode == 0, run.stderr.decode()
        assert run.stdout.decode().strip() == expected
