"""The loaded scenarios and how a request's scenario name is looked up in them.

Loading them from files is :mod:`streamctl.engine.scenarios`; choosing one for a request is
:mod:`streamctl.engine.choice`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamctl.engine.scenarios import Scenario

__all__ = ["ScenarioSet", "UnknownScenarioError"]


class UnknownScenarioError(LookupError):
    """A scenario name that does not exist, or does not apply to the protocol asked for."""

    def __init__(self, name: str, protocol: str, available: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.protocol = protocol
        self.available = list(available)

    def __str__(self) -> str:
        return f"unknown scenario {self.name!r} for protocol {self.protocol!r}"


@dataclass(frozen=True)
class ScenarioSet:
    """The loaded scenarios, in load order."""

    scenarios: tuple[Scenario, ...] = ()
    by_name: Mapping[str, Scenario] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.scenarios})

    def __len__(self) -> int:
        return len(self.scenarios)

    def available(self, protocol: str) -> list[str]:
        """The names that apply to ``protocol``."""
        return [s.name for s in self.scenarios if s.applies_to(protocol)]

    def get(self, name: str, protocol: str) -> Scenario:
        """The scenario ``name`` for ``protocol``, or :class:`UnknownScenarioError`."""
        scenario = self.by_name.get(name)
        if scenario is None or not scenario.applies_to(protocol):
            raise UnknownScenarioError(name, protocol, self.available(protocol))
        return scenario

    def matching(self, protocol: str, user_text: str) -> Scenario | None:
        """The first scripted scenario for ``protocol`` whose ``match`` finds ``user_text``."""
        return next(
            (s for s in self.scenarios if s.applies_to(protocol) and s.matches(user_text)),
            None,
        )
