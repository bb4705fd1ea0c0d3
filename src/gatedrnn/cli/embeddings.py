"""``gatedrnn embeddings``: word vectors trained on IMDb, and a look inside a vector file."""

from __future__ import annotations

from pathlib import Path

import click

from .options import FilePath
from .root import main


@main.group()
def embeddings():
    """Word vectors: train them on the IMDb reviews, inspect a vector file."""


@embeddings.command("train")
@click.option("--data", type=FilePath(exists=True, path_type=Path), default=None,
              help="aclImdb_v1.tar.gz or the aclImdb/ folder [default: download to the cache].")
@click.option("--out", type=FilePath(dir_okay=False, path_type=Path),
              default=Path("runs/vectors/imdb-word2vec.vec"), show_default=True,
              help="Written in the word2vec text format.")
@click.option("--dim", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--window", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--cbow", is_flag=True, help="CBOW instead of skip-gram (faster, a bit weaker).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def embeddings_train(data, out, dim, window, min_count, epochs, cbow, workers, seed):
    """Word2vec (gensim) on the 50,000 unlabelled and 25,000 training reviews (never test)."""
    from ..data import imdb
    from ..sentiment import train_word_vectors

    try:
        train_word_vectors(data, out, dim=dim, window=window, min_count=min_count,
                           epochs=epochs, skip_gram=not cbow, workers=workers, seed=seed,
                           log=lambda m: click.echo(m, err=True))
    except (imdb.DatasetError, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{out}")


@embeddings.command("info")
@click.argument("path", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", default="auto", show_default=True,
              type=click.Choice(["auto", "word2vec", "fasttext", "glove", "word2vec-binary"]))
@click.option("--neighbours", "words", multiple=True,
              help="Show the nearest words (cosine) of this word; repeatable.")
@click.option("--max-words", type=click.IntRange(min=1), default=None,
              help="Read only the first N vectors (large files).")
def embeddings_info(path, file_format, words, max_words):
    """Size and dimension of a word-vector file, and nearest neighbours."""
    from ..data.vectors import VectorsError, detect_format, load_vectors

    try:
        vectors = load_vectors(path, file_format, max_words=max_words)
    except VectorsError as exc:
        raise click.ClickException(str(exc)) from exc
    kind = detect_format(path) if file_format == "auto" else file_format
    click.echo(f"{path}: {kind}, {len(vectors):,} words × {vectors.dim}")
    for word in words:
        try:
            near = vectors.neighbours(word, 8)
        except KeyError as exc:
            click.echo(f"{word}: {exc.args[0]}")
            continue
        click.echo(f"{word}: " + ", ".join(f"{w} {s:.2f}" for w, s in near))
