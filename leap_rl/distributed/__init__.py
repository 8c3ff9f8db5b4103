"""Distributed meta-training on Ray: a driver holding θ⁰ and worker actors streaming chunks."""
