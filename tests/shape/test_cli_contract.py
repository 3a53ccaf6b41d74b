"""The command line is a public contract: scripts depend on its command names, options and
defaults. `cli_contract_0_2.json` is the 0.2.0 CLI as shipped (read from typer's command
tree); every command, option and default in it must still exist. Adding is free, renaming or
removing is not."""

import json
from pathlib import Path

import typer

from textune.cli import app

SNAPSHOT = Path(__file__).with_name("cli_contract_0_2.json")


def _current() -> dict:
    out = {}
    for name, sub in typer.main.get_command(app).commands.items():
        opts = {}
        for p in sub.params:
            key = (" ".join(sorted(p.opts + p.secondary_opts)) if p.param_type_name == "option"
                   else f"<{p.name}>")
            d = p.default
            opts[key] = d if isinstance(d, (str, int, float, bool, type(None))) else repr(d)
        out[name] = opts
    return out


def _now_spelling(now: dict, key: str) -> str | None:
    """The current option with every spelling of the 0.2 option `key`: a spelling added
    since (`-o` beside `--output`) is an addition, not a rename."""
    return next((k for k in now if set(key.split()) <= set(k.split())), None)


def test_every_0_2_command_option_and_default_still_exists():
    old, now = json.loads(SNAPSHOT.read_text()), _current()
    found = {(cmd, opt): _now_spelling(now.get(cmd, {}), opt)
             for cmd, opts in old.items() for opt in opts}
    missing = [f"{cmd} {opt}" for (cmd, opt), key in found.items() if key is None]
    assert not missing, f"removed or renamed: {missing}"
    changed = [f"{cmd} {opt}: {default!r} -> {now[cmd][found[cmd, opt]]!r}"
               for cmd, opts in old.items() for opt, default in opts.items()
               if now[cmd][found[cmd, opt]] != default]
    assert not changed, f"defaults changed: {changed}"


def test_every_command_that_writes_has_o_for_output():
    now = _current()
    assert not [cmd for cmd, opts in now.items()
                if any("--output" in k.split() and "-o" not in k.split() for k in opts)]
