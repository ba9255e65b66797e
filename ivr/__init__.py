"""The one-number IVR: what the caller hears and how their answers are read.

Pure like the routing core (no Flask, Redis or clock reads): the voice
blueprint passes requests in and turns the decisions into HTTP responses.
"""
