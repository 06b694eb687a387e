"""The flags of the agents (``--market-makers N`` ...): their config fields, parsing and checks.

``AgentSettings`` is a base of the run's config (``config.SimConfig``, through
``amqp_url.AmqpSettings``), so its fields are SimConfig's; ``add_flags`` adds the flags to the
parser in a --help group of their own, each bounded; ``params`` turns them into what the
brokers' desks take (``agents.AgentParams``). What the agents do is ``agents.py``'s docstring.
Every count is 0 by default: no agent, and the run is what it was without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.agents import MOST_MAKERS, MOST_TAKERS, AgentParams
from simulator.order_flags import OrderTypeSettings

MOST_TICKS = 10_000  # $100 of spread, skew or move: far past any use
MOST_SHARES = 10**9
FIELDS: tuple[str, ...] = ("market_makers", "momentum", "mean_reversion", "mm_spread", "mm_size")
FIELDS += ("mm_max_inventory", "mm_skew", "mm_refresh", "taker_size", "taker_move", "taker_chance")  # its own


@dataclass(frozen=True, slots=True)
class AgentSettings(OrderTypeSettings):
    """The agents' part of a run's config."""

    market_makers: int = 0
    momentum: int = 0
    mean_reversion: int = 0
    mm_spread: int = 4  # ticks between a maker's bid and ask (maker i quotes 2 * (i % 3) wider)
    mm_size: int = 100  # shares per quote
    mm_max_inventory: int = 1000  # shares either way a maker may hold per symbol
    mm_skew: int = 1  # ticks the quotes move against each mm_size of inventory
    mm_refresh: int = 3  # ticks a quote may drift from where it should be and stay (more: replaced)
    taker_size: int = 100  # shares per momentum or mean-reversion order
    taker_move: int = 2  # ticks the last price must move between two looks for a taker to act
    taker_chance: int = 50  # percent: how often a taker acts when the move allows it


def add_flags(p: Any, d: AgentSettings, _int_in: Callable[[int, int], Callable[[str], int]]) -> None:
    """The agents' flags, with the defaults of ``d``; ``_int_in(low, high)`` parses a bounded count."""
    g = p.add_argument_group(
        "agents (beside the flow, in the brokers, each reacting to its symbol's book)",
        "Each agent has an account of its own after the clients' and yours, quotes or takes in\n"
        "every symbol, and acts only on its book's trades in order: the fills stay a function\n"
        "of the seed and the flags, whatever the brokers, batch or restarts.",
    )
    add = g.add_argument
    # fmt: off
    add("--market-makers", metavar="N", type=_int_in(0, MOST_MAKERS), default=d.market_makers,
        help=f"market makers quoting both sides of every symbol around its last trade (0 to {MOST_MAKERS})")
    add("--momentum", metavar="N", type=_int_in(0, MOST_TAKERS), default=d.momentum,
        help=f"momentum takers: buy after the price rose, sell after it fell (0 to {MOST_TAKERS})")
    add("--mean-reversion", metavar="N", type=_int_in(0, MOST_TAKERS), default=d.mean_reversion,
        help=f"mean-reversion takers: sell after the price rose, buy after it fell (0 to {MOST_TAKERS})")
    add("--mm-spread", metavar="TICKS", type=_int_in(1, MOST_TICKS), default=d.mm_spread,
        help="ticks between a maker's bid and ask with no inventory (maker i: 2 x (i mod 3) more)")
    add("--mm-size", metavar="N", type=_int_in(1, MOST_SHARES), default=d.mm_size,
        help="shares per quote")
    add("--mm-max-inventory", metavar="N", type=_int_in(1, MOST_SHARES), default=d.mm_max_inventory,
        help="a maker stops quoting the side that would take its position in a symbol past N shares")
    add("--mm-skew", metavar="TICKS", type=_int_in(0, MOST_TICKS), default=d.mm_skew,
        help="ticks both quotes move against the maker's position, per --mm-size shares held")
    add("--mm-refresh", metavar="TICKS", type=_int_in(1, MOST_TICKS), default=d.mm_refresh,
        help="a quote more than this many ticks from where it should be is cancelled and placed again")
    add("--taker-size", metavar="N", type=_int_in(1, MOST_SHARES), default=d.taker_size,
        help="shares per momentum or mean-reversion order (a MARKET IOC order)")
    add("--taker-move", metavar="TICKS", type=_int_in(1, MOST_TICKS), default=d.taker_move,
        help="ticks the last trade price must move between two looks for a taker to act")
    add("--taker-chance", metavar="PCT", type=_int_in(1, 100), default=d.taker_chance,
        help="percent chance that a taker acts when the move allows (a seeded draw per order)")
    # fmt: on


def params(config: Any, first_account: int) -> AgentParams:
    """What every desk of the run takes; ``first_account``: the first agent's account."""
    return AgentParams(
        makers=config.market_makers,
        momentum=config.momentum,
        mean_reversion=config.mean_reversion,
        first_account=first_account,
        seed=config.seed,
        spread=config.mm_spread,
        quote_size=config.mm_size,
        max_inventory=config.mm_max_inventory,
        skew=config.mm_skew,
        refresh=config.mm_refresh,
        taker_size=config.taker_size,
        move=config.taker_move,
        take_pct=config.taker_chance,
    )


def any_agents(config: Any) -> bool:
    return bool(config.market_makers or config.momentum or config.mean_reversion)
