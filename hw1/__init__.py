"""Homework 1: black-box meta-learning on Omniglot (episodes and a memory-augmented network)."""
