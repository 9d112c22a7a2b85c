"""The command palette (ctrl+p): every action of the app and of the current screen, searchable."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from assistant.app.app import DraftpadApp


class DraftpadCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        app = cast("DraftpadApp", self.app)
        return app.palette_commands(self.screen)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)  # type: ignore[arg-type]


def run_action(app: "DraftpadApp", node: object, action: str) -> partial:
    """A palette callback that runs `action` on the screen/app that owns it."""
    return partial(app.run_action, action, node)  # type: ignore[arg-type]
