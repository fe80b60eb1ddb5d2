"""partnerdx engine: loader → schema → compile → inference → explain → report.

Nothing in this package names a specific item, rule or conclusion: those live in the YAML under
`rules/` and `knowledge/`.
"""
