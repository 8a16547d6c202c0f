"""A small mutation runner: ``python -m tests.mutation [module ...]``.

It makes mutants of a core module (operator swaps, constant tweaks, dropped
negations, ...), runs the module's own tests against each in a throwaway copy of
the project, and lists the mutants no test killed. Not part of ``make test``
(a run takes minutes): ``make mutate``.
"""
