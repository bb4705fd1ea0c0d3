"""``python -m gatedrnn.cli``: the pipeline runs its steps this way."""

from . import main

main()
