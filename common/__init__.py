"""Helpers that every homework's training command shares: device, seeding, logs and plots."""
