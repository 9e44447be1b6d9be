"""Helpers that the homeworks share: device, seeding, logs and plots of the training commands; the
checkpoint schema; and the Adam that the tests' short training runs step with."""
