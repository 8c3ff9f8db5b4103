"""leap-rl: meta-learning an encoder initialization across Atari games with Leap (ICLR 2019)."""

__version__ = "0.1.0"
