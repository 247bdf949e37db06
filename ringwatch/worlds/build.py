"""Plan a whole world: fraud first (it needs fewer indices than it might), then the benign rest."""

from __future__ import annotations

import numpy as np

from ringwatch.worlds.fraud import plan_fraud
from ringwatch.worlds.mailboxes import unique_mailboxes
from ringwatch.worlds.model import World
from ringwatch.worlds.phones import unique_phones
from ringwatch.worlds.plan import Planner, new_world, plan_benign
from ringwatch.worlds.profiles import Profile


def build_world(n: int, seed: int, profile: Profile) -> World:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    salt = int(rng.integers(0, 1 << 48))
    world = new_world(n, seed, profile, salt)
    pl = Planner(world, rng)
    pl.build_pools()
    world.benign_start = plan_fraud(pl)
    plan_benign(pl, world.benign_start)
    unique_mailboxes(world)
    unique_phones(world, pl.rng)
    world.site_ip, world.site_group, world.group_kind, world.group_device = pl.sites.finish()
    return world
