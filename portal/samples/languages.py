"""The seven samples of one request: each a complete program that sends it, prints the
status on its first line and the body after it, and reads the key from the environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.samples import literals as lit
from portal.samples.model import SampleRequest


@dataclass(frozen=True, slots=True)
class Language:
    id: str
    label: str
    #: What the highlighter calls it (Pygments' lexer name).
    lexer: str
    #: The file a reader saves the sample as, and how to run it.
    filename: str
    run: str
    render: Callable[[SampleRequest], str]


def _headers(request: SampleRequest) -> list[tuple[str, str | None]]:
    """The headers to send, in order; ``None`` stands for the bearer key's value."""
    found: list[tuple[str, str | None]] = []
    if request.key_variable is not None:
        found.append(("Authorization", None))
    if request.body is not None:
        found.append(("Content-Type", "application/json"))
    found.extend(request.headers)
    return found


def _header_lines(
    r: SampleRequest,
    line: str,
    bearer: str,
    quote: Callable[[str], str] = lit.double_quoted,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """One ``line`` a header, formatted with its quoted ``name`` and ``value``; ``bearer``
    is the language's expression for "Bearer " and the key from the environment."""
    return [
        line.format(name=quote(n), value=bearer if v is None else quote(v))
        for n, v in _headers(r)
        if n not in skip
    ]


def curl(r: SampleRequest) -> str:
    lines = [
        f"curl -sS -i {'--head' if r.method == 'HEAD' else '-X ' + r.method} "
        f"{lit.shell(r.full_url)}"
    ]
    lines += [
        f'-H "Authorization: Bearer ${r.key_variable}"'
        if v is None
        else f"-H {lit.shell(f'{n}: {v}')}"
        for n, v in _headers(r)
    ]
    if r.body is not None:
        lines.append(f"--data-raw {lit.shell(lit.pretty_json(r.body))}")
    return " \\\n  ".join(lines) + "\n"


def python(r: SampleRequest) -> str:
    args = [lit.double_quoted(r.method), lit.double_quoted(r.url)]
    if r.query and len({k for k, _ in r.query}) == len(r.query):
        args.append("params=" + lit.python(dict(r.query), 4))
    elif r.query:  # a repeated name: only a list of pairs keeps every value
        pairs = ", ".join(f"({lit.double_quoted(k)}, {lit.double_quoted(v)})" for k, v in r.query)
        args.append(f"params=[{pairs}]")
    bearer = f"f\"Bearer {{os.environ['{r.key_variable}']}}\""
    # json= sets Content-Type itself.
    headers = _header_lines(r, "        {name}: {value},", bearer, skip=frozenset({"Content-Type"}))
    if headers:
        args.append("headers={\n" + "\n".join(headers) + "\n    }")
    if r.body is not None:
        args.append("json=" + lit.python(r.body, 4))
    imports = "import os\n\nimport httpx\n" if r.key_variable else "import httpx\n"
    call = "".join(f"    {a},\n" for a in args)
    return (
        f"{imports}\nresponse = httpx.request(\n{call})\n"
        "print(response.status_code, response.reason_phrase)\nprint(response.text)\n"
    )


def javascript(r: SampleRequest) -> str:
    options = [f"  method: {lit.double_quoted(r.method)},"]
    headers = _header_lines(
        r, "    {name}: {value},", f"`Bearer ${{process.env.{r.key_variable}}}`"
    )
    if headers:
        options.append("  headers: {\n" + "\n".join(headers) + "\n  },")
    if r.body is not None:
        body = lit.pretty_json(r.body).replace("\n", "\n  ")
        options.append(f"  body: JSON.stringify({body}),")
    return (
        "// Node 18 or later: save as call.mjs, run with node call.mjs\n"
        f"const response = await fetch({lit.double_quoted(r.full_url)}, {{\n"
        + "\n".join(options)
        + "\n});\n"
        "console.log(response.status, response.statusText);\n"
        "console.log(await response.text());\n"
    )


def go(r: SampleRequest) -> str:
    imports = [
        "fmt",
        "io",
        "net/http",
        *(["os"] if r.key_variable else []),
        *(["strings"] if r.body is not None else []),
    ]
    body = "nil"
    if r.body is not None:
        body = f"strings.NewReader({lit.go_string(lit.pretty_json(r.body))})"
    bearer = f'"Bearer "+os.Getenv({lit.double_quoted(r.key_variable or "")})'
    sets = _header_lines(r, "\treq.Header.Set({name}, {value})", bearer)
    return (
        "package main\n\nimport (\n" + "".join(f'\t"{i}"\n' for i in imports) + ")\n\n"
        "func main() {\n"
        f"\treq, err := http.NewRequest({lit.double_quoted(r.method)}, "
        f"{lit.double_quoted(r.full_url)}, {body})\n"
        "\tif err != nil {\n\t\tpanic(err)\n\t}\n"
        + "".join(s + "\n" for s in sets)
        + "\tresp, err := http.DefaultClient.Do(req)\n"
        "\tif err != nil {\n\t\tpanic(err)\n\t}\n"
        "\tdefer resp.Body.Close()\n"
        "\tdata, err := io.ReadAll(resp.Body)\n"
        "\tif err != nil {\n\t\tpanic(err)\n\t}\n"
        "\tfmt.Println(resp.Status)\n\tfmt.Println(string(data))\n}\n"
    )


def ruby(r: SampleRequest) -> str:
    lines = [
        'require "net/http"',
        "",
        f"uri = URI({lit.single_quoted(r.full_url)})",
        f"request = Net::HTTP::{r.method.capitalize()}.new(uri)",
    ]
    bearer = f'"Bearer #{{ENV.fetch({lit.single_quoted(r.key_variable or "")})}}"'
    lines += _header_lines(r, "request[{name}] = {value}", bearer, lit.single_quoted)
    if r.body is not None:
        lines.append(f"request.body = {lit.single_quoted(lit.pretty_json(r.body))}")
    lines += [
        "response = Net::HTTP.start(uri.hostname, uri.port, "
        'use_ssl: uri.scheme == "https") do |http|',
        "  http.request(request)",
        "end",
        'puts "#{response.code} #{response.message}"',
        "puts response.body",
    ]
    return "\n".join(lines) + "\n"


def php(r: SampleRequest) -> str:
    headers = [
        (
            f"'Authorization: Bearer ' . getenv({lit.single_quoted(r.key_variable or '')})"
            if v is None
            else lit.single_quoted(f"{n}: {v}")
        )
        for n, v in _headers(r)
    ]
    options = [f"    CURLOPT_CUSTOMREQUEST => {lit.single_quoted(r.method)},"]
    if r.method == "HEAD":
        options.append("    CURLOPT_NOBODY => true,")
    if headers:
        options.append(
            "    CURLOPT_HTTPHEADER => [\n" + "".join(f"        {h},\n" for h in headers) + "    ],"
        )
    if r.body is not None:
        options.append(f"    CURLOPT_POSTFIELDS => {lit.single_quoted(lit.pretty_json(r.body))},")
    options.append("    CURLOPT_RETURNTRANSFER => true,")
    return (
        "<?php\n"
        f"$curl = curl_init({lit.single_quoted(r.full_url)});\n"
        "curl_setopt_array($curl, [\n" + "\n".join(options) + "\n]);\n"
        "$body = curl_exec($curl);\n"
        "if ($body === false) {\n"
        "    fwrite(STDERR, curl_error($curl) . PHP_EOL);\n    exit(1);\n}\n"
        "echo curl_getinfo($curl, CURLINFO_RESPONSE_CODE), PHP_EOL;\n"
        "echo $body, PHP_EOL;\n"
    )


def java(r: SampleRequest) -> str:
    bearer = f'"Bearer " + System.getenv({lit.double_quoted(r.key_variable or "")})'
    calls = _header_lines(r, "            .header({name}, {value})", bearer)
    if r.body is not None:
        publisher = f"HttpRequest.BodyPublishers.ofString({lit.double_quoted(r.json_text)})"
    else:
        publisher = "HttpRequest.BodyPublishers.noBody()"
    calls.append(f"            .method({lit.double_quoted(r.method)}, {publisher})")
    return (
        "import java.net.URI;\nimport java.net.http.HttpClient;\n"
        "import java.net.http.HttpRequest;\nimport java.net.http.HttpResponse;\n\n"
        "// Java 11 or later: save as Call.java, run with java Call.java\n"
        "public class Call {\n"
        "    public static void main(String[] args) throws Exception {\n"
        "        HttpRequest request = HttpRequest.newBuilder(URI.create("
        f"{lit.double_quoted(r.full_url)}))\n" + "\n".join(calls) + "\n            .build();\n"
        "        HttpResponse<String> response = HttpClient.newHttpClient()\n"
        "            .send(request, HttpResponse.BodyHandlers.ofString());\n"
        "        System.out.println(response.statusCode());\n"
        "        System.out.println(response.body());\n"
        "    }\n}\n"
    )


LANGUAGES: tuple[Language, ...] = (
    Language("curl", "curl", "bash", "call.sh", "sh call.sh", curl),
    Language("python", "Python", "python", "call.py", "python call.py", python),
    Language("javascript", "JavaScript", "javascript", "call.mjs", "node call.mjs", javascript),
    Language("go", "Go", "go", "call.go", "go run call.go", go),
    Language("ruby", "Ruby", "ruby", "call.rb", "ruby call.rb", ruby),
    Language("php", "PHP", "php", "call.php", "php call.php", php),
    Language("java", "Java", "java", "Call.java", "java Call.java", java),
)
