"""Crisislijn call router: one crisis number, one triage, one team, routed 24/7."""
