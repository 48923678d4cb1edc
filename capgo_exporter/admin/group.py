"""One resource group of the admin tree (``channel``) and its actions (``list``, ``set`` …)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from capgo_exporter.admin.context import Handler


class Group:
    def __init__(
        self,
        resources: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        help: str,
        common: argparse.ArgumentParser,
    ) -> None:
        self.parser = resources.add_parser(name, help=help, description=help)
        self._actions = self.parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        self._common = common

    def command(
        self, name: str, handler: Handler, help: str, *operands: str
    ) -> argparse.ArgumentParser:
        """A leaf command; it takes the common options (--output, --dry-run, --yes, --demo) and
        ``operands``, positional arguments shown in capitals (``app_id`` is ``APP_ID``)."""
        leaf = command(self._actions, self._common, name, handler, help)
        for operand in operands:
            leaf.add_argument(operand, metavar=operand.upper())
        return leaf


def command(
    parent: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    handler: Handler,
    help: str,
) -> argparse.ArgumentParser:
    """A leaf under ``parent``: an action of a group, or a resource that has no actions."""
    leaf = parent.add_parser(name, help=help, description=help, parents=[common])
    leaf.set_defaults(handler=handler)
    return leaf


GroupFactory = Callable[[str, str], Group]
# (name, handler, help) → a command that is a resource of its own (``admin events``).
CommandFactory = Callable[[str, Handler, str], argparse.ArgumentParser]
