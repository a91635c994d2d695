"""Fidelity: the emulator replayed against real QBO recordings (../shared/qbo/samples)."""
