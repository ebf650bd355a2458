"""``tsanalysis plugins``: the loaded plugins, their versions, hooks and registrations."""

from __future__ import annotations

import click

from ._common import emit_json, json_option, print_table


def register(cli: click.Group) -> None:
    cli.add_command(plugins)


@click.command()
@json_option
def plugins(as_json: bool) -> None:
    """Loaded plugins: name, version, hooks, what each registered and what was skipped.

    Third-party plugins come from the ``tsanalysis`` entry-point group of installed
    distributions; TSANALYSIS_LOAD_PLUGINS (comma-separated names, empty for none) limits
    which load. Built-ins are always loaded. A registration whose name another plugin took
    first (built-ins win), or of the wrong type, is skipped; the reasons follow the table.
    """
    from ..plugins import list_plugins

    infos = list_plugins()
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    print_table([{"name": i.name, "version": i.version, "builtin": "yes" if i.builtin else "no",
                  "hooks": ", ".join(i.hooks),
                  "registered": "; ".join(f"{h.removeprefix('register_')}: {len(items)}"
                                          for h, items in i.registered.items()),
                  "skipped": len(i.skipped) or ""}
                 for i in infos], ["name", "version", "builtin", "hooks", "registered", "skipped"])
    skipped = [s for i in infos for s in i.skipped]
    if skipped:
        click.echo("\nskipped:")
        for s in skipped:
            click.echo(f"  {s.plugin}: {s.hook.removeprefix('register_')} {s.name!r}: "
                       f"{s.reason}")
