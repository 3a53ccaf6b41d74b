"""MkDocs hook: the CLI reference page is generated from the typer app at build time.

typer's own Markdown generator (`typer MODULE utils docs`) runs in-process on
`textune.cli.app`, so the page lists exactly the commands and options `textune --help` does,
hidden aliases left out, and a renamed option shows up without editing any page. A page
that lost its marker fails the build instead of shipping an empty reference.
"""

import typer
import typer.main
from mkdocs.exceptions import PluginError
from typer.cli import get_docs_for_click

PAGE = "reference/cli.md"
MARKER = "<!-- the textune CLI reference, generated at build time -->"


def cli_markdown() -> str:
    from textune.cli import app

    command = typer.main.get_command(app)
    text = get_docs_for_click(obj=command, ctx=typer.Context(command), name="textune",
                              title="textune")
    # one level down: the page's own title stays the only h1
    return "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} must hold the line {MARKER!r} where the reference goes")
    return markdown.replace(MARKER, cli_markdown())
