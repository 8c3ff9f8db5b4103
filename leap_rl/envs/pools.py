"""Frozen game sets of the Leap Atari experiment (Flennerhag et al. 2019, appendix F, table 6).

The paper pretrains on "all environments with an action space of at most 10, holding out
Breakout and SpaceInvaders" and says the pool has 27 games. Deriving that pool from the
classic Gym Atari list (below) with ale-py 0.12's minimal action sets gives exactly
27 games with at most 10 actions *including* Breakout and SpaceInvaders, hence 25 games
once those two are held out. We read the paper's "27" as counting the two held-out games
and keep the 25 left after holding them out, as the text prescribes.

``PRETRAINING_POOL`` is frozen here so that using it loads no ROM (a config naming it checks
its 25 ROM files' presence and checksums, and loads none); ``derive_pretraining_pool()``
recomputes it from ale-py, loading every classic ROM (a unit test checks both agree).
"""

from __future__ import annotations

from leap_rl.envs.games import resolve_game, rom_id_to_name

POOL_MAX_ACTIONS = 10
HELD_OUT_GAMES: tuple[str, ...] = ("Breakout", "SpaceInvaders")

# The classic Gym Atari list: the 60 games registered by gym's `atari` envs in 2018
# (gym 0.10, gym/envs/__init__.py), the Gym the paper used. Later Gym/ale-py releases
# added Adventure and Defender (both 18 actions, so the pool is the same either way);
# ale-py 0.12 keeps the extended list in ale_py.registration.register_v0_v4_envs.
CLASSIC_GYM_GAMES: tuple[str, ...] = (
    "air_raid", "alien", "amidar", "assault", "asterix", "asteroids", "atlantis",
    "bank_heist", "battle_zone", "beam_rider", "berzerk", "bowling", "boxing", "breakout",
    "carnival", "centipede", "chopper_command", "crazy_climber", "demon_attack",
    "double_dunk", "elevator_action", "enduro", "fishing_derby", "freeway", "frostbite",
    "gopher", "gravitar", "hero", "ice_hockey", "jamesbond", "journey_escape", "kangaroo",
    "krull", "kung_fu_master", "montezuma_revenge", "ms_pacman", "name_this_game",
    "phoenix", "pitfall", "pong", "pooyan", "private_eye", "qbert", "riverraid",
    "road_runner", "robotank", "seaquest", "skiing", "solaris", "space_invaders",
    "star_gunner", "tennis", "time_pilot", "tutankham", "up_n_down", "venture",
    "video_pinball", "wizard_of_wor", "yars_revenge", "zaxxon",
)  # fmt: skip

# Output of derive_pretraining_pool() with ale-py 0.12.1 (comments: minimal action set
# size): 25 games.
PRETRAINING_POOL: tuple[str, ...] = (
    "AirRaid",  # 6
    "Amidar",  # 10
    "Assault",  # 7
    "Asterix",  # 9
    "Atlantis",  # 4
    "BeamRider",  # 9
    "Bowling",  # 6
    "Carnival",  # 6
    "CrazyClimber",  # 9
    "DemonAttack",  # 6
    "Enduro",  # 9
    "Freeway",  # 3
    "Gopher",  # 8
    "MsPacman",  # 9
    "NameThisGame",  # 6
    "Phoenix",  # 8
    "Pong",  # 6
    "Pooyan",  # 6
    "Qbert",  # 6
    "Skiing",  # 3
    "TimePilot",  # 10
    "Tutankham",  # 8
    "UpNDown",  # 6
    "VideoPinball",  # 9
    "WizardOfWor",  # 10
)

# Table 6 of the paper: evaluation game -> action space size (equal to ALE's minimal
# action set; a unit test checks this). The first three are in the pretraining pool,
# Breakout and SpaceInvaders are held out, the last four have more actions than any
# pool game.
EVALUATION_SET: dict[str, int] = {
    "AirRaid": 6,
    "UpNDown": 6,
    "WizardOfWor": 10,
    "Breakout": 4,
    "SpaceInvaders": 6,
    "Asteroids": 14,
    "Alien": 18,
    "Gravitar": 18,
    "RoadRunner": 18,
}


# The MinAtar experiment (docs/results.md): MinAtar's five games are miniatures of Atari games,
# and two of them are the paper's held-out games by name, so they are held out here too.
MINATAR_HELD_OUT: tuple[str, ...] = ("MinAtar/Breakout", "MinAtar/SpaceInvaders")
MINATAR_POOL: tuple[str, ...] = ("MinAtar/Asterix", "MinAtar/Freeway", "MinAtar/Seaquest")


def classic_games_available() -> tuple[str, ...]:
    """ROM ids of the classic Gym games that the installed ale-py ships."""
    from ale_py import roms  # imports gymnasium: only when the pool is derived

    shipped = set(roms.get_all_rom_ids())
    return tuple(rom_id for rom_id in CLASSIC_GYM_GAMES if rom_id in shipped)


def derive_pretraining_pool(max_actions: int = POOL_MAX_ACTIONS) -> tuple[str, ...]:
    """Recompute the pretraining pool: classic games with <= max_actions minus held-out ones.

    Loads every classic ROM once (about 6 s in total; results are cached).
    """
    small = [
        rom_id_to_name(rom_id)
        for rom_id in classic_games_available()
        if resolve_game(rom_id).num_actions <= max_actions
    ]
    return tuple(name for name in small if name not in HELD_OUT_GAMES)
