"""The experiments' names, in the order `gatedrnn reproduce` runs them.

Plain data, importable without torch: the command line offers these names as choices, and
its help must answer at once. A test checks that they are reproduce.EXPERIMENTS' names.
"""

NAMES = ("params", "gradient-flow", "long-dependency", "lstm-vs-gru", "bidirectional", "gates",
         "bidirectional-pos")
