"""What an operator may ask of a running bot: the commands the ops endpoint serves.

Declared here, where it is used, and implemented by the application (`bot.app.lifecycle.Bot`),
so ops services never import the app: they get a `Runtime` to read and an `Operator` to command.
"""

from __future__ import annotations

from typing import Any, Protocol


class Operator(Protocol):
    async def pause(self, reason: str) -> None:
        """Pull every quote and cancel every open order of ours until `resume`."""
        ...

    async def resume(self) -> bool:
        """Quote again, whoever paused (a kill-switch trip is cleared too); False when not paused."""
        ...

    def resume_markets(self, market: str | None = None) -> list[str]:
        """Resume markets a strategy paused (`market`: only that "venue:symbol"); returns the keys."""
        ...

    def paused_markets(self) -> list[dict[str, Any]]:
        """Every market a strategy holds paused, with what the operator should know first."""
        ...

    async def cancel_all(self) -> int:
        """Cancel every open order of ours now; returns how many are left."""
        ...
