"""The near-RT RIC platform: E2 termination, subscriptions, routing, checks, registry, metrics.

`ric.protocol` holds what every other layer shares: the world description (`WorldSpec`), the
per-slot service-model containers (`Reports`, `Controls`) and, later, the wire codec.
"""
