"""``{api-samples}``: one call to tDoc's API, written out in every language the portal's
code samples speak, in tabs that follow the reader's language across the site.

    :::{api-samples} POST /v1/events/{id}/members/{user}
    :path-params: {"id": "evt_42", "user": "ada"}
    :body: {"permission": "editor"}
    :::

The samples come from ``portal.samples``, the generator the portal's reference uses, so
the docs and the portal never disagree. ``:query:`` takes a JSON object too.
"""

from __future__ import annotations

import json
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from portal.samples import LANGUAGES, build

#: The tab group shared with every other tab of the site that shows code by language.
SYNC_GROUP = "lang"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None


class ApiSamples(SphinxDirective):
    required_arguments = 2
    option_spec = {  # noqa: RUF012 - docutils reads it from the class
        "path-params": _json,
        "query": _json,
        "body": _json,
    }
    has_content = False

    def run(self) -> list[nodes.Node]:
        method, path = self.arguments
        try:
            request = build(
                self.config.api_samples_base_url,
                method,
                path,
                path_params=self.options.get("path-params"),
                query=self.options.get("query") or (),
                body=self.options.get("body"),
            )
        except Exception as error:  # the generator refuses what no sample could send
            raise self.error(f"{method} {path}: {error}") from None
        lines = ["::::{tab-set}", f":sync-group: {SYNC_GROUP}", ""]
        for language in LANGUAGES:
            lines += [f":::{{tab-item}} {language.label}", f":sync: {language.id}", ""]
            lines += [f"`````{language.lexer}", *language.render(request).splitlines(), "`````"]
            lines += [":::", ""]
        lines.append("::::")
        container = nodes.container(classes=["api-samples"])
        self.state.nested_parse(StringList(lines, self.get_source_info()[0]), 0, container)
        for block in container.findall(nodes.literal_block):
            # Programs that call a server: shown, never run by the doctest builder.
            block["runnable"] = False
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("api_samples_base_url", "http://127.0.0.1:8000", "env")
    app.add_directive("api-samples", ApiSamples)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
