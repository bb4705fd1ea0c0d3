"""The linear-chain CRF against brute-force enumeration of every tag sequence on tiny cases:
log Z, the gold score, Viterbi, marginals, the IOB2 constraints, and its gradients."""

import itertools

import pytest
import torch

from gatedrnn.nn.crf import CRF, bio_allowed


def random_crf(num_tags: int, seed: int, allowed=None, first=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags, allowed, first).double()
    with torch.no_grad():
        for p in (crf.transitions, crf.start, crf.end):
            p.normal_()
    return crf


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> dict:
    """Every tag sequence of one sentence: its score by the definition, log Z, the best."""
    start, end, transitions = (p.detach() for p in (crf.start, crf.end, crf.transitions))
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        if not crf.first[path[0]] or any(not crf.allowed[a, b] for a, b in zip(path, path[1:])):
            continue  # a forbidden sequence has probability 0
        s = start[path[0]] + end[path[-1]]
        s = s + sum(emissions[t, k] for t, k in enumerate(path))
        s = s + sum(transitions[a, b] for a, b in zip(path, path[1:]))
        scores[path] = s
    values = torch.stack(list(scores.values()))
    log_z = torch.logsumexp(values, 0)
    marginals = torch.zeros(length, crf.num_tags, dtype=torch.float64)
    for path, s in scores.items():
        for t, k in enumerate(path):
            marginals[t, k] += torch.exp(s - log_z)
    return {"scores": scores, "log_z": log_z, "best": list(max(scores, key=scores.get)),
            "marginals": marginals}


@pytest.mark.parametrize("constrained", [False, True])
def test_every_quantity_matches_enumerating_all_sequences(constrained):
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"] if constrained else ["a", "b", "c"]
    allowed, first = bio_allowed(tags) if constrained else (None, None)
    crf = random_crf(len(tags), seed=1, allowed=allowed, first=first)
    lengths = torch.tensor([4, 1, 3])
    emissions = torch.randn(3, 4, len(tags), dtype=torch.float64,
                            generator=torch.Generator().manual_seed(2))
    log_z = crf.log_partition(emissions, lengths).detach()
    decoded = crf.decode(emissions, lengths)
    marginals = crf.marginals(emissions, lengths)
    for b, n in enumerate(lengths.tolist()):
        truth = brute_force(crf, emissions[b], n)
        assert float(log_z[b]) == pytest.approx(float(truth["log_z"]), abs=1e-9)
        assert decoded[b] == truth["best"]
        assert torch.allclose(marginals[b, :n], truth["marginals"], atol=1e-9)
        assert float(marginals[b, n:].abs().sum()) == 0.0  # nothing past the end
        path = truth["best"]
        gold = torch.tensor([path + [0] * (4 - n)])
        score = crf.score(emissions[b:b + 1], gold, lengths[b:b + 1]).detach()
        assert float(score) == pytest.approx(float(truth["scores"][tuple(path)]), abs=1e-9)
        nll = crf.nll(emissions[b:b + 1], gold, lengths[b:b + 1]).detach()
        assert float(nll) == pytest.approx(float(truth["log_z"] - truth["scores"][tuple(path)]),
                                           abs=1e-9)


def test_iob2_forbids_inside_tags_after_another_type_or_at_the_start():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, first = bio_allowed(tags)
    assert first.tolist() == [True, True, False, True, False]
    assert allowed[tags.index("B-PER"), tags.index("I-PER")]
    assert allowed[tags.index("I-PER"), tags.index("I-PER")]
    assert not allowed[tags.index("O"), tags.index("I-PER")]
    assert not allowed[tags.index("B-LOC"), tags.index("I-PER")]
    assert allowed[tags.index("I-LOC"), tags.index("O")]
    # emissions that say "O" then, loudly, "I-PER": Viterbi cannot give O → I-PER, so it
    # opens the entity where its inside goes (B-PER, I-PER)
    crf = CRF(len(tags), allowed, first)
    emissions = torch.full((1, 2, len(tags)), -5.0)
    emissions[0, 0, 0] = 5.0
    emissions[0, 1, 2] = 50.0
    path = crf.decode(emissions, torch.tensor([2]))[0]
    assert [tags[k] for k in path] == ["B-PER", "I-PER"]


def test_the_gradients_are_those_of_the_definition():
    crf = random_crf(3, seed=3)
    emissions = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths, gold = torch.tensor([3, 2]), torch.tensor([[0, 2, 1], [1, 1, 0]])
    assert torch.autograd.gradcheck(lambda e: crf.nll(e, gold, lengths, reduction="sum"),
                                    (emissions,))
    # d log Z / d start[k] is p(y_1 = k), and d log Z / d end[k] is p(y_n = k)
    log_z = crf.log_partition(emissions.detach(), lengths).sum()
    d_start, d_end = torch.autograd.grad(log_z, (crf.start, crf.end))
    marginals = crf.marginals(emissions.detach(), lengths)
    assert torch.allclose(d_start, marginals[:, 0].sum(0), atol=1e-9)
    last = marginals[torch.arange(2), lengths - 1]
    assert torch.allclose(d_end, last.sum(0), atol=1e-9)


def test_bad_lengths_and_shapes_are_named():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"lengths must be in 1..T=4, got 0 at index 1"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.tensor([4, 0]))
    with pytest.raises(ValueError, match=r"emissions must be \(B, T, 3\)"):
        crf.decode(torch.zeros(2, 4, 5), torch.tensor([4, 4]))
    with pytest.raises(ValueError, match="reduction"):
        crf.nll(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.long), torch.tensor([2]),
                reduction="max")
