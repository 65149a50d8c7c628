"""The sync engine: identify, observe, derive, translate, plan, apply.

Planning is pure (snapshots + baselines + policy → `Plan`); only `apply` and
`collect` touch providers. Import the step modules directly
(`anibridge.bridge.plan`, `anibridge.bridge.sync`, ...); this package only holds them.
"""
