"""What every tagging module agrees on: the task's name in a checkpoint, the default output
directory, the tag sets, the padding target and the longest word read."""

from __future__ import annotations

from pathlib import Path

DEFAULT_OUT = Path("runs/tagger")
TASK = "tagger"
IGNORE = -100       # target of padded positions: cross_entropy skips it
MAX_WORD_CHARS = 30  # longer words (URLs) keep their first and last 15 characters
# The tag sets a tagger can predict, one head each, from CoNLL-U's columns: UPOS always;
# XPOS (language-specific) by default where the treebank has it; FEATS (each word's whole
# morphological features, "Case=Nom|Number=Sing", as one tag) when asked.
TAG_SETS = ("upos", "xpos", "feats")
DEFAULT_TAGS = ("upos", "xpos")
