"""The pages' own scripts are native ES modules: each page loads one entry module (plus the vendored libraries as
classic scripts), every script is reached through imports (or as a worker) from an entry, none publishes a global,
and the DOM helper and the drawing of faces on canvas each live in one module. eslint (``.ci/run``) checks the
rest."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask

import emolens.web

JS = Path(emolens.web.__file__).parent / "static" / "js"
PAGES = ["/", "/live", "/dashboard", "/history"]
IMPORT = re.compile(r'^(?:import|export)\b[^;]*?from\s+"\./([\w.]+)"|new URL\("\./([\w.]+)", import\.meta\.url\)',
                    re.M | re.S)
"""A module a script imports, or starts as a worker."""


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))


def _entries(make_app: Callable[..., Flask]) -> dict[str, list[str]]:
    """Each page's entry modules (file names), checking on the way that every other script is a vendored one and
    that the page's CSP lets modules load from the server itself."""
    entries = {}
    with make_app().test_client() as client:
        for page in PAGES:
            response = client.get(page)
            assert response.status_code == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            parser = _Scripts()
            parser.feed(response.get_data(as_text=True))
            modules = [s for s in parser.scripts if s.get("type") == "module"]
            assert all((s.get("src") or "").startswith("/static/vendor/") for s in parser.scripts
                       if s not in modules), page
            assert all((s.get("src") or "").startswith("/static/js/") for s in modules), page
            entries[page] = [str(s["src"]).rsplit("/", 1)[1] for s in modules]
    return entries


def test_every_page_loads_its_scripts_as_modules_reaching_every_script(make_app: Callable[..., Flask]) -> None:
    entries = _entries(make_app)
    assert all(len(names) == 1 for names in entries.values()), entries
    reached: set[str] = set()
    todo = [name for names in entries.values() for name in names]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(a or b for a, b in IMPORT.findall((JS / name).read_text()))
    assert reached == {p.name for p in JS.glob("*.js")}  # no script left outside the module graph


def test_no_page_script_publishes_a_global_or_repeats_the_shared_helpers() -> None:
    sources = {p.name: p.read_text() for p in JS.glob("*.js")}
    for name, text in sources.items():
        assert not re.search(r"\b(?:window|globalThis|self)\.\w+\s*=(?!=)", text), name
        assert not re.search(r"^(?:const|let|var)\s+emolens\w*\s*=", text, re.M), name  # the old IIFE globals
        assert re.search(r"^(?:import|export)\b", text, re.M), name
    assert [n for n, t in sources.items() if re.search(r"(?:const|function)\s+\$\s*[=(]", t)] == ["dom.js"]
    assert [n for n, t in sources.items() if "strokeRect(" in t] == ["draw.js"]  # faces on canvas: one module
