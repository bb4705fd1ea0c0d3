"""Why a recurrent model decided what it did: per-token contributions, attention, gates.

A text classifier (``explain``) and a tagger or entity tagger (``explain_tags``) alike.

Contributions are gradient × input on the word embeddings of the decision score
``logit(positive) − logit(negative)`` (for more than two classes: the predicted class's logit):
a token with a positive contribution pushed the review towards "pos". It is a first-order
(linear) attribution, one backward pass, so it is cheap enough for every request; the
contributions of all tokens add up to the score's first-order change from a zero embedding.

Gates come from the from-scratch path (``return_gates=True``): per token and per layer and
direction, the mean over units of each gate (LSTM f, i, o; GRU r, z), and the hidden state of
the top layer's most active units (largest variation over the text), as LSTMVis shows them.
"""

from __future__ import annotations

import torch

from .. import registry

GATE_NAMES = {"LSTM": ("f", "i", "o"), "GRU": ("r", "z"), "RNN": ()}
MAX_EXPLAIN_TOKENS = 2000  # longer texts are explained on their first 2,000 tokens


def explain(predictor, text: str, units: int = 8) -> dict:
    """Prediction, tokens, contributions, attention and gate summaries for one text."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    kind = registry.kind_of(predictor)
    if not kind.explains:
        raise ValueError(f"{predictor.source or 'this model'} is not a recurrent classifier (a "
                         f"{kind.name} model): it has no embeddings or gates to explain; "
                         "explain one recurrent checkpoint")
    if hasattr(predictor, "members"):
        return _explain_ensemble(predictor, text, units)
    model = predictor.model
    tokens = predictor.tokenizer(text)  # the model's own: words, subwords, Japanese words
    truncated = len(tokens) > MAX_EXPLAIN_TOKENS
    tokens = tokens[:MAX_EXPLAIN_TOKENS]
    ids = predictor.vocab.encode(tokens) or [predictor.vocab.pad_index]
    lengths = torch.tensor([len(ids)])
    with torch.enable_grad():
        embedded = model.embedding(torch.tensor([ids])).detach().requires_grad_()
        logits, attention, gates = model.from_embeddings(embedded, lengths, return_gates=True)
        labels = predictor.labels
        # the confidence predict() prints: the checkpoint's temperature applies here too
        temperature = getattr(predictor, "temperature", 1.0)
        probabilities = torch.softmax(logits.double() / temperature, dim=1)[0].float()
        predicted = int(probabilities.argmax())
        if len(labels) == 2:
            score = logits[0, 1] - logits[0, 0]
        else:
            score = logits[0, predicted]
        (gradient,) = torch.autograd.grad(score, embedded)
    probabilities = probabilities.detach()
    contributions = (gradient * embedded).sum(-1)[0].detach()
    result = {
        "label": labels[predicted], "confidence": float(probabilities[predicted]),
        "probabilities": {name: float(p) for name, p in zip(labels, probabilities)},
        "tokens": tokens, "known": [i != predictor.vocab.unk_index for i in ids[:len(tokens)]],
        "contributions": contributions[: len(tokens)].tolist(),
        "contribution_target": labels[1] if len(labels) == 2 else labels[predicted],
        "attention": (attention[0, : len(tokens)].detach().tolist()
                      if attention is not None else None),
        "truncated": truncated,
    }
    result.update(_gate_summary(model, gates, len(tokens), units))
    return result


def _gate_summary(model, gates: dict, length: int, units: int) -> dict:
    mode = model.config.mode
    names = GATE_NAMES[mode]
    summary = {}
    for key, values in gates.items():  # "l0", "l0_reverse", ...; each gate (1, T, H)
        summary[key] = {g: values[g][0, :length].mean(dim=1).tolist() for g in names}
    if length == 0:  # an empty text: the prediction comes from the biases alone
        return {"mode": mode, "gate_names": list(names), "gates": summary, "units": []}
    top = model.config.num_layers - 1
    hidden = torch.cat([gates[k]["h"][0, :length] for k in sorted(gates)
                        if k.startswith(f"l{top}")], dim=1)  # (T, D·H)
    spread = hidden.amax(0) - hidden.amin(0) if length > 1 else hidden[0].abs()
    chosen = torch.argsort(spread, descending=True)[:units].tolist()
    per_direction = model.config.hidden_size
    return {
        "mode": mode, "gate_names": list(names), "gates": summary,
        "units": [{"unit": f"{'bwd' if u >= per_direction else 'fwd'} {u % per_direction}",
                   "values": hidden[:, u].tolist()} for u in chosen],
    }


def _explain_ensemble(ensemble, text: str, units: int) -> dict:
    """An ensemble's own prediction, with the contributions and gates of its first recurrent
    member (the n-gram and document-vector members have none to show)."""
    recurrent = [m for m in ensemble.members if registry.kind_of(m).explains]
    if not recurrent:
        raise ValueError(f"{ensemble.source} is an ensemble without a recurrent member: it has "
                         "no embeddings or gates to explain")
    result = explain(recurrent[0], text, units)
    member = {key: result[key] for key in ("label", "confidence", "probabilities")}
    decided = ensemble.predict([text])[0]
    result.update(label=decided["label"], confidence=decided["confidence"],
                  probabilities=decided["probabilities"], explained_member={
                      "source": recurrent[0].source, **member,
                      "of": len(ensemble.members)})
    return result


def explain_tags(model, text: str, units: int = 8, token: int | None = None) -> dict:
    """A tagger's (or entity tagger's) reading of ``text``: its tokens, their tags (and
    entities), the gates at every token, the most varying hidden units, and the contributions
    of every token (gradient × input on its word and character features) to the score of one
    token's tag: ``token`` (its index; default the least confident one). The text is read as
    one sequence, cut into tokens as the model's language is."""
    from ..data.segment import segment

    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    tokens = [t.text for s in segment(text, model.language) for t in s][:MAX_EXPLAIN_TOKENS]
    if not tokens:
        raise ValueError("nothing to explain: the text has no tokens")
    (tagged,) = model.tag([tokens])
    if token is None:
        confidence = tagged.get("upos_confidence") or _least_sure(model, tokens)
        token = min(range(len(tokens)), key=confidence.__getitem__)
    if not 0 <= token < len(tokens):
        raise ValueError(f"token must be an index in 0..{len(tokens) - 1}, got {token}")
    batch = model.collate_tokens(tokens)
    network = model.model
    words, lengths, chars, char_lengths, form_index = batch.inputs(model.device)
    with torch.enable_grad():
        features = network.read_words(words, chars, char_lengths, form_index)
        features = features.detach().requires_grad_()
        encoded, _, gates = network.encoder(features, lengths=lengths, need_cell_state=False,
                                            return_gates=True)
        scores = network.head_scores(encoded)  # (1, T, K) of the tags the model chose among
        names, chosen = model.tag_names(tagged)
        (gradient,) = torch.autograd.grad(scores[0, token, chosen[token]], features)
    contributions = (gradient * features).sum(-1)[0].detach()
    result = {"tokens": tokens, "tagged": tagged, "token": token,
              "contribution_target": f"{tokens[token]} as {names[token]}",
              "contributions": contributions.tolist(),
              "known": [w != model.vocab.words.unk_index
                        for w in model.vocab.word_ids(tokens)]}
    result.update(_gate_summary(network, gates, len(tokens), units))
    return result


def _least_sure(model, tokens: list[str]) -> list[float]:
    """Each token's CRF marginal probability of its best tag (an entity tagger)."""
    _, marginals = model.decode([tokens])
    return marginals[0].max(-1).values.tolist()
